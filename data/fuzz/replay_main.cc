// A tiny libFuzzer-compatible driver for CI: replays the seed inputs and every file of the
// corpus directories given on the command line, then runs a bounded number of deterministic
// mutations (bit flips, interesting bytes, big-endian sizes, truncation, insertion, chunk
// duplication) through LLVMFuzzerTestOneInput. A crash or trap fails the test.
//
// Usage: <binary> [--iterations=N] [--write_seeds=DIR] [--save_last=FILE] [CORPUS_DIR ...]
// Under `bazel test`, relative corpus paths are resolved in the runfiles tree
// ($TEST_SRCDIR/$TEST_WORKSPACE/...), and a corpus directory without files is an error (a glob
// or path that matches nothing must not pass as "no crash").
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "data/fuzz/fuzz_seeds.h"
#include "tensor/rng.h"

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Returns `path` inside the test's runfiles tree when run by `bazel test` and path is relative.
std::string RunfilesPath(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr || path.empty() || path[0] == '/') return path;
  return std::string(srcdir) + "/" + workspace + "/" + path;
}

// If non-empty, every input is written here before it runs, so a crash leaves its reproducer.
std::string g_save_last;

void Run(const std::string& input) {
  if (!g_save_last.empty()) std::ofstream(g_save_last, std::ios::binary | std::ios::trunc) << input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

// Applies one random mutation to `s`.
void Mutate(simdnet::Rng& rng, std::string* s) {
  static const uint8_t kInteresting[] = {0x00, 0x01, 0x08, 0x0d, 0x10, 0x1f, 0x7f,
                                         0x80, 0x8b, 0xfe, 0xff};
  static const uint32_t kBig[] = {0, 1, 0x7fffffffu, 0x80000000u, 0xffffffffu, 60000, 65536};
  const uint32_t op = static_cast<uint32_t>(rng.UniformInt(7));
  const size_t n = s->size();
  const size_t pos = n ? static_cast<size_t>(rng.UniformInt(n)) : 0;
  switch (op) {
    case 0:  // flip one bit
      if (n) (*s)[pos] = static_cast<char>((*s)[pos] ^ (1u << rng.UniformInt(8)));
      break;
    case 1:  // interesting byte
      if (n) (*s)[pos] = static_cast<char>(kInteresting[rng.UniformInt(sizeof(kInteresting))]);
      break;
    case 2: {  // big-endian 32-bit value, where IDX dims and lengths live
      const uint32_t v = kBig[rng.UniformInt(sizeof(kBig) / sizeof(kBig[0]))];
      for (int k = 0; k < 4 && pos + k < n; ++k) (*s)[pos + k] = static_cast<char>(v >> (24 - 8 * k));
      break;
    }
    case 3:  // truncate
      s->resize(pos);
      break;
    case 4: {  // insert random bytes
      std::string ins(static_cast<size_t>(1 + rng.UniformInt(16)), '\0');
      for (char& c : ins) c = static_cast<char>(rng.UniformInt(256));
      s->insert(pos, ins);
      break;
    }
    case 5: {  // duplicate a chunk
      if (!n) break;
      const size_t len = static_cast<size_t>(1 + rng.UniformInt(std::min<size_t>(n - pos, 64)));
      s->insert(pos, s->substr(pos, len));
      break;
    }
    default:  // erase a chunk
      if (n) s->erase(pos, static_cast<size_t>(1 + rng.UniformInt(std::min<size_t>(n - pos, 64))));
      break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = 2000;
  std::vector<std::string> inputs = simdnet::fuzz::FuzzSeeds();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--save_last=", 0) == 0) {
      g_save_last = arg.substr(12);
    } else if (arg.rfind("--iterations=", 0) == 0) {
      iterations = std::strtol(arg.c_str() + 13, nullptr, 10);
    } else if (arg.rfind("--write_seeds=", 0) == 0) {
      const std::string dir = arg.substr(14);
      std::filesystem::create_directories(dir);
      const std::vector<std::string> seeds = simdnet::fuzz::FuzzSeeds();
      for (size_t k = 0; k < seeds.size(); ++k) {
        std::ofstream(dir + "/seed_" + std::to_string(k), std::ios::binary) << seeds[k];
      }
      std::printf("wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
      return 0;
    } else if (const std::string path = RunfilesPath(arg); std::filesystem::is_directory(path)) {
      size_t files = 0;
      for (const auto& e : std::filesystem::directory_iterator(path)) {
        if (e.is_regular_file()) {
          inputs.push_back(ReadAll(e.path().string()));
          ++files;
        }
      }
      if (files == 0) {
        std::fprintf(stderr, "corpus directory %s holds no files\n", path.c_str());
        return 2;
      }
      std::printf("%s: %zu corpus files\n", arg.c_str(), files);
    } else if (std::filesystem::is_regular_file(path)) {
      inputs.push_back(ReadAll(path));
    } else {
      std::fprintf(stderr, "unknown argument or missing path: %s\n", arg.c_str());
      return 2;
    }
  }
  for (const std::string& in : inputs) Run(in);
  simdnet::Rng rng(0x5eed);
  for (long it = 0; it < iterations; ++it) {
    std::string s = inputs[static_cast<size_t>(rng.UniformInt(inputs.size()))];
    const uint64_t rounds = 1 + rng.UniformInt(4);
    for (uint64_t r = 0; r < rounds; ++r) Mutate(rng, &s);
    Run(s);
  }
  std::printf("replayed %zu inputs and %ld mutations: no crash\n", inputs.size(), iterations);
  return 0;
}
