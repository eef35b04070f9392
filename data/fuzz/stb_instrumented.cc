// Compiles Debian's stb_image / stb_image_resize implementations (the headers carry them) into
// the clang fuzz build, so libFuzzer sees coverage inside the decoders and ASan/UBSan check them;
// the prebuilt libstb.so is uninstrumented. Used only by run_fuzzers.sh, never by Bazel.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>
