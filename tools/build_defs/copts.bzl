"""Compiler options shared by every simdnet rule (no -m/-march flags).

Every target carries its language and optimization level: -std=c++17, and -O2 because Highway
code unoptimized is 10-100x slower (STYLE.md section 4). Bazel's default toolchain passes
-std=c++0x and, in fastbuild, -O0; later flags win, so these override them. In this workspace
.bazelrc passes the same two flags to every compile (and sets --define=simdnet_rc=1, the
config_setting below), so the targets do not repeat them there and in-tree command lines (and
the shared disk cache) stay as they are. A workspace that depends on @simdnet has no such
.bazelrc: the default branch adds the flags to simdnet's own targets.
"""

# What .bazelrc otherwise supplies: language level and optimization.
_LANGUAGE_AND_OPT = select({
    "//tools/build_defs:simdnet_rc": [],
    "//conditions:default": [
        "-std=c++17",
        "-O2",
    ],
})

SIMDNET_COPTS = _LANGUAGE_AND_OPT + [
    "-Wall",
    "-Wextra",
    "-Wvla",
    "-Wnon-virtual-dtor",
    "-Wno-unused-parameter",
]

# Tests use gtest/hwy macros that trip the stricter conversion warnings.
SIMDNET_TEST_COPTS = _LANGUAGE_AND_OPT + [
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-Wno-sign-compare",
]
