"""Compiler options shared by every simdnet rule (warnings only; no -m/-march flags)."""

SIMDNET_COPTS = [
    "-Wall",
    "-Wextra",
    "-Wvla",
    "-Wnon-virtual-dtor",
    "-Wno-unused-parameter",
]

# Tests use gtest/hwy macros that trip the stricter conversion warnings.
SIMDNET_TEST_COPTS = [
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-Wno-sign-compare",
]
