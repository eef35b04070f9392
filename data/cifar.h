// Readers for the CIFAR-10 and CIFAR-100 binary versions
// (https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size records of label byte(s) followed
// by a 32x32 RGB image stored channel-major (1024 R, 1024 G, 1024 B).
#ifndef SIMDNET_DATA_CIFAR_H_
#define SIMDNET_DATA_CIFAR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/dataset.h"
#include "data/idx.h"

namespace simdnet {

enum class CifarKind {
  kCifar10,         // 1 label byte per record, 10 classes
  kCifar100Fine,    // 2 label bytes (coarse, fine); uses the fine label, 100 classes
  kCifar100Coarse,  // uses the coarse label, 20 super-classes
};

inline constexpr int64_t kCifarImageBytes = 3 * 32 * 32;

// Returns the record size in bytes (1 + 3072 for CIFAR-10, 2 + 3072 for CIFAR-100).
int64_t CifarRecordBytes(CifarKind kind);

// Returns the number of classes of `kind` (10, 100 or 20).
int CifarNumClasses(CifarKind kind);

// Parses the bytes of one binary batch file and appends its records to `out` (shape
// (N, 3, 32, 32); `out` may already hold records from earlier batches). `name` is used in
// messages. InvalidArgument naming `name` if the file is empty, its size is not a multiple of
// the record size (truncated), or a label is out of range (naming the record index).
// Requires: out->channels/height/width are either 0 (empty) or 3/32/32.
absl::Status ParseCifarBatch(absl::string_view bytes, absl::string_view name, CifarKind kind,
                             InMemoryDataset* out);

// Loads the CIFAR data set rooted at `dir` (the extracted "cifar-10-batches-bin" or
// "cifar-100-binary" folder): data_batch_1..5.bin / test_batch.bin for CIFAR-10, train.bin /
// test.bin for CIFAR-100. Class names come from batches.meta.txt (CIFAR-10) or
// {fine,coarse}_label_names.txt (CIFAR-100) when present, else "class_<k>".
// Errors name the missing or malformed file.
absl::StatusOr<InMemoryDataset> LoadCifar(const std::string& dir, CifarKind kind, Split split);

}  // namespace simdnet

#endif  // SIMDNET_DATA_CIFAR_H_
