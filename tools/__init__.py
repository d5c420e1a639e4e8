"""What only the tests and the benchmarks use (a development server for the browser)."""
