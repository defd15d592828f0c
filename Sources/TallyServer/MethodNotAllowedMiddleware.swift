import Hummingbird

/// Tells a wrong method from an unknown path. Added after every route, so the router runs it
/// only for a request no route took: when the path is one of the route table's under another
/// method, the answer is 405 `method-not-allowed` with `Allow` listing the path's methods
/// (RFC 9110 §15.5.6); any other path goes on to the router's 404.
///
/// The table is the router's own (`Router.routes`), read once when the middleware is made, so
/// a new route needs nothing here. `HEAD` is allowed wherever `GET` is: the router answers it
/// from the GET route (`RouterOptions.autoGenerateHeadEndpoints`).
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    struct Route: Sendable {
        let path: RouterPath
        var methods: [HTTPRequest.Method]
    }

    let routes: [Route]

    init(routes table: [Router<Context>.RouteDescription]) {
        var routes: [Route] = []
        for route in table {
            if let index = routes.firstIndex(where: { $0.path == route.path }) {
                routes[index].methods.append(route.method)
            } else {
                routes.append(Route(path: route.path, methods: [route.method]))
            }
        }
        self.routes = routes
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let allowed = allowedMethods(path: request.uri.path) else { return try await next(request, context) }
        var error = APIError(.methodNotAllowed, "method-not-allowed", "This path does not take this method",
                             detail: "\(request.method.rawValue) is not allowed here; allowed: \(allowed)")
        error.headers = [.allow: allowed]
        throw error
    }

    /// The methods the route matching `path` takes (comma-separated, as `Allow` lists them),
    /// or nil when no route matches it. Where a literal segment and a parameter both match
    /// (`purchases/batch` and `purchases/:transaction`), the literal wins, as in the router.
    func allowedMethods(path: String) -> String? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var best: (route: Route, literals: [Bool])?
        for route in routes where route.path.components.count == segments.count {
            guard zip(route.path.components, segments).allSatisfy({ $0 ~= $1 }) else { continue }
            let literals = route.path.components.map { $0 == $0.description }
            if let current = best, !literals.lexicographicallyPrecedes(current.literals, by: { $0 && !$1 }) { continue }
            best = (route, literals)
        }
        guard let route = best?.route else { return nil }
        var methods = Set(route.methods.map(\.rawValue))
        if methods.contains(HTTPRequest.Method.get.rawValue) { methods.insert(HTTPRequest.Method.head.rawValue) }
        return methods.sorted().joined(separator: ", ")
    }
}
