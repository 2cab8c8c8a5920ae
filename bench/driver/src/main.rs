//! Benchmark driver (skeleton; filled in by the benchmarks work).
fn main() {}
