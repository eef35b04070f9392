"""The external repositories a workspace that depends on @simdnet must declare.

A consumer's WORKSPACE needs only these lines (the path is where the simdnet checkout lives):

    local_repository(
        name = "simdnet",
        path = "/path/to/simdnet",
    )

    load("@simdnet//:deps.bzl", "simdnet_dependencies")

    simdnet_dependencies()

simdnet builds offline against Debian packages (Bazel 4.2.3, libhwy-dev, libabsl-dev,
libgtest-dev, libstb-dev, ...; see tools/setup.sh). Bazel appends a default WORKSPACE suffix
that would download rules_cc, rules_java, platforms and remote_coverage_tools; declaring them
first makes it skip those downloads. A repository the consumer already declares is left alone.
"""

def _simdnet_subdir_impl(repository_ctx):
    # The simdnet checkout: the directory of its WORKSPACE file, wherever the consumer put it.
    root = repository_ctx.path(Label("@simdnet//:WORKSPACE")).dirname
    source = root
    for part in repository_ctx.attr.subdir.split("/"):
        source = source.get_child(part)
    if not source.exists:
        fail("simdnet: %s is missing from the simdnet checkout at %s" %
             (repository_ctx.attr.subdir, root))
    for child in source.readdir():
        repository_ctx.symlink(child, child.basename)

# A repository made of one directory of the simdnet checkout (its offline shims), resolved
# relative to @simdnet so that consumers need no paths into simdnet.
_simdnet_subdir = repository_rule(
    implementation = _simdnet_subdir_impl,
    attrs = {"subdir": attr.string(mandatory = True)},
    local = True,
)

def simdnet_dependencies():
    """Declares rules_cc, rules_java, platforms and remote_coverage_tools for @simdnet."""
    existing = native.existing_rules()
    if "rules_cc" not in existing:
        # Re-exports the native C++ rules (Debian's bazel-rules-cc is too new for Bazel 4.2.3).
        _simdnet_subdir(name = "rules_cc", subdir = "third_party/rules_cc")
    if "rules_java" not in existing:
        # Installed by Debian's bazel-rules-java; resolves the registered JDK toolchains.
        native.local_repository(name = "rules_java", path = "/usr/share/bazel/rules/java")
    if "platforms" not in existing:
        # Installed by Debian's bazel-platforms.
        native.local_repository(name = "platforms", path = "/usr/share/bazel/tools/platforms")
    if "remote_coverage_tools" not in existing:
        # `bazel test` needs two labels from it even without coverage (an offline stand-in).
        _simdnet_subdir(
            name = "remote_coverage_tools",
            subdir = "third_party/remote_coverage_tools",
        )
