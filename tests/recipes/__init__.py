"""A throwaway block and a throwaway family, each in its own file, as ARCHITECTURE.md's recipes add them."""
