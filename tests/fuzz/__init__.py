"""Fuzzing: program generators from the grammar and a mutation fuzzer over architectures/."""
