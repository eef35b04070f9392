// Robustness tests for the safetensors loader: corpus replay and a bounded, seeded mutation
// fuzz loop. Every input must load or fail with a clear message.
//
// The corpus is written by an independent Python implementation of the format
// (testdata/make_safetensors_corpus.py). Loaded files must re-serialize to a fixed point.
#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tensor/atomic_file.h"
#include "tensor/test_data.h"
#include "train/safetensors.h"

namespace simdnet {
namespace {

// Found through runfiles (tensor/test_data.h).
const std::string& CorpusDir() {
  static const std::string* dir =
      new std::string(TestDataPath("train/testdata/safetensors_corpus"));
  return *dir;
}

std::vector<std::string> CorpusFiles() {
  std::vector<std::string> names;
  DIR* d = ::opendir(CorpusDir().c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (absl::EndsWith(n, ".safetensors")) names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// Checks the loader's contract on one input; returns true if it was accepted.
bool CheckOneInput(const std::string& bytes, const std::string& what) {
  const auto r = ParseSafetensors(bytes, "fuzz");
  if (!r.ok()) {
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << what << ": " << r.status();
    EXPECT_TRUE(absl::StartsWith(r.status().message(), "safetensors 'fuzz': ")) << r.status();
    EXPECT_GT(r.status().message().size(), 25u) << what;
    return false;
  }
  // Accepted: writing it back must work and be a fixed point.
  const auto again = SerializeSafetensors(*r);
  EXPECT_TRUE(again.ok()) << what << ": " << again.status();
  if (!again.ok()) return true;
  const auto r2 = ParseSafetensors(*again, "fuzz");
  EXPECT_TRUE(r2.ok()) << what << ": " << r2.status();
  if (!r2.ok()) return true;
  EXPECT_EQ(*SerializeSafetensors(*r2), *again) << what;
  return true;
}

TEST(SafetensorsCorpusTest, ReplaysCorpus) {
  const std::vector<std::string> files = CorpusFiles();
  ASSERT_GE(files.size(), 10u) << "corpus missing at " << CorpusDir();
  for (const std::string& name : files) {
    const auto r = LoadSafetensors(absl::StrCat(CorpusDir(), "/", name));
    if (absl::StartsWith(name, "valid_")) {
      EXPECT_TRUE(r.ok()) << name << ": " << r.status();
    } else {
      ASSERT_TRUE(absl::StartsWith(name, "bad_")) << name;
      EXPECT_FALSE(r.ok()) << name << " was accepted";
      EXPECT_TRUE(absl::StrContains(r.status().message(), name)) << r.status();
    }
  }
}

TEST(SafetensorsCorpusTest, ReadsPythonWrittenTorchStateDict) {
  const auto r = LoadSafetensors(absl::StrCat(CorpusDir(), "/valid_torch_state_dict.safetensors"));
  ASSERT_TRUE(r.ok()) << r.status();
  const Tensor& w = r->tensors.at("features.0.weight");
  EXPECT_EQ(w.shape(), Shape({2, 1, 2, 2}));
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(w[i], static_cast<float>(i));
  EXPECT_EQ(w.at({1, 0, 0, 1}), 5.0f);  // C order.
  EXPECT_EQ(r->tensors.at("features.0.bias")[1], -0.5f);
  EXPECT_EQ(r->int_tensors.at("bn.num_batches_tracked").values, std::vector<int64_t>{7});
  EXPECT_EQ(r->metadata.at("format"), "pt");
}

std::string Mutate(const std::string& in, std::mt19937_64& rng) {
  std::string s = in;
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  static const char kInteresting[] = {'\0', '\xff', '"', '[', ']', '{', '}', ',',
                                      ':',  '-',    '9', '0', 'e', '.', ' ', '\\'};
  switch (rng() % 7) {
    case 0:  // Flip a few bits anywhere.
      for (int k = 0, n = 1 + pick(8); k < n && !s.empty(); ++k) {
        s[pick(s.size())] ^= static_cast<char>(1u << pick(8));
      }
      break;
    case 1:  // Overwrite bytes with syntax-relevant characters.
      for (int k = 0, n = 1 + pick(4); k < n && !s.empty(); ++k) {
        s[pick(s.size())] = kInteresting[pick(sizeof(kInteresting))];
      }
      break;
    case 2:  // Truncate.
      s.resize(pick(s.size() + 1));
      break;
    case 3: {  // Insert random bytes.
      const size_t at = pick(s.size() + 1);
      std::string ins(1 + pick(16), '\0');
      for (char& c : ins) c = static_cast<char>(rng());
      s.insert(at, ins);
      break;
    }
    case 4: {  // Delete a range.
      const size_t at = pick(s.size() + 1);
      s.erase(at, pick(32));
      break;
    }
    case 5: {  // Change the header length.
      if (s.size() < 8) break;
      uint64_t len;
      std::memcpy(&len, s.data(), 8);
      const uint64_t choices[] = {len + 1, len - 1, len + 8, 0, ~uint64_t{0}, rng(), len / 2};
      len = choices[pick(7)];
      std::memcpy(&s[0], &len, 8);
      break;
    }
    default: {  // Change one digit in the header (shapes and offsets).
      for (int tries = 0; tries < 64 && s.size() > 8; ++tries) {
        const size_t at = 8 + pick(s.size() - 8);
        if (s[at] >= '0' && s[at] <= '9') {
          s[at] = static_cast<char>('0' + pick(10));
          break;
        }
      }
      break;
    }
  }
  return s;
}

TEST(SafetensorsFuzzTest, MutatedFilesNeverCrash) {
  std::vector<std::string> seeds;
  {
    SafetensorsContents c;
    Tensor w(Shape({3, 2, 2}));
    for (int64_t i = 0; i < w.size(); ++i) w[i] = 0.1f * static_cast<float>(i);
    c.tensors.emplace("features.0.weight", w);
    c.tensors.emplace("features.0.bias", Tensor(Shape({3})));
    c.tensors.emplace("empty", Tensor(Shape({0})));
    c.int_tensors.emplace("step", IntTensor{IntDType::kI64, {}, {42}});
    c.int_tensors.emplace("rng", IntTensor{IntDType::kI32, {2}, {1, -1}});
    c.metadata["model_spec"] = "conv(3,2)";
    seeds.push_back(*SerializeSafetensors(c));
  }
  for (const std::string& name : CorpusFiles()) {
    seeds.push_back(*ReadFile(absl::StrCat(CorpusDir(), "/", name)));
  }
  std::mt19937_64 rng(20261129);
  constexpr int kIterationsPerSeed = 1500;
  int accepted = 0, total = 0;
  for (const std::string& seed : seeds) {
    std::string current = seed;
    for (int i = 0; i < kIterationsPerSeed; ++i) {
      // Mostly mutate the seed; sometimes stack mutations for deeper damage.
      current = (rng() % 4 == 0) ? Mutate(current, rng) : Mutate(seed, rng);
      accepted += CheckOneInput(current, absl::StrCat("seed ", &seed - seeds.data(), " iter ", i));
      ++total;
      if (::testing::Test::HasFailure()) return;
    }
  }
  // Sanity: the fuzzer exercises both outcomes (else the mutations are too weak or too strong).
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, total);
  std::printf("fuzz: %d inputs, %d accepted\n", total, accepted);
}

}  // namespace
}  // namespace simdnet
