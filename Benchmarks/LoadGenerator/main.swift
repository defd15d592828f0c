// The HTTP load generator; being written.
print("tally-loadgen: not built yet")
