// The Projections module: read models folded from the journal. Being built in this session.
