// Shared declarations of the fuzz targets: each *_fuzzer.cc defines the libFuzzer entry point
// LLVMFuzzerTestOneInput and FuzzSeeds(), the valid inputs that start its corpus.
#ifndef SIMDNET_DATA_FUZZ_FUZZ_SEEDS_H_
#define SIMDNET_DATA_FUZZ_FUZZ_SEEDS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

// The libFuzzer entry point: parses `data` and must never crash, hang or allocate without bound.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace simdnet {
namespace fuzz {

// Returns small valid inputs for this fuzz target (written as the seed corpus and replayed by
// the bounded replay test).
std::vector<std::string> FuzzSeeds();

}  // namespace fuzz
}  // namespace simdnet

#endif  // SIMDNET_DATA_FUZZ_FUZZ_SEEDS_H_
