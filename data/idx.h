// Readers for IDX files (the MNIST / Fashion-MNIST format, http://yann.lecun.com/exdb/mnist/),
// plain or gzip-compressed, and a loader for the Fashion-MNIST copy Debian installs.
#ifndef SIMDNET_DATA_IDX_H_
#define SIMDNET_DATA_IDX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/dataset.h"
#include "data/file_util.h"

namespace simdnet {

// A parsed IDX file with unsigned-byte elements (type code 0x08, the only type the MNIST family
// uses). dims are the big-endian sizes from the header.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // product(dims) bytes, row-major
};

// Parses the bytes of an (already decompressed) IDX file. `name` is used in messages.
// Returns InvalidArgument naming `name` for: a header shorter than 4 + 4 * rank bytes, a wrong
// magic (first two bytes not zero), an element type other than 0x08, rank 0 or > 4, a dimension
// product that overflows or exceeds max_elements, or a payload whose size differs from the
// product of the dims (truncated or trailing bytes).
absl::StatusOr<IdxArray> ParseIdx(absl::string_view bytes, absl::string_view name,
                                  int64_t max_elements = kDefaultMaxFileBytes);

// Reads an IDX file (gzip-compressed or not, detected by content) and parses it.
absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path,
                                     int64_t max_bytes = kDefaultMaxFileBytes);

// Builds a dataset from a parsed images array (N, H, W) and labels array (N). The images become
// (N, 1, H, W). InvalidArgument naming `name` if the ranks are wrong, the counts differ, N is 0,
// or a label is >= class_names.size() (the message gives the label index and value).
absl::StatusOr<InMemoryDataset> IdxToDataset(IdxArray images, const IdxArray& labels,
                                             std::vector<std::string> class_names,
                                             absl::string_view name);

// Loads a pair of IDX files (e.g. train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz).
absl::StatusOr<InMemoryDataset> LoadIdxDataset(const std::string& images_path,
                                               const std::string& labels_path,
                                               std::vector<std::string> class_names);

// Where Debian's dataset-fashion-mnist package installs the gzip-compressed IDX files.
inline constexpr char kDefaultFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// Returns the 10 Fashion-MNIST class names ("T-shirt/top", ..., "Ankle boot").
std::vector<std::string> FashionMnistClassNames();
// Returns the 10 MNIST class names ("0" ... "9").
std::vector<std::string> MnistClassNames();

enum class Split { kTrain, kTest };

// Loads Fashion-MNIST (or MNIST: the file names are the same) from `dir`, which holds
// {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; an empty dir means kDefaultFashionMnistDir.
// NotFound naming the directory and the expected file names if the files are missing.
absl::StatusOr<InMemoryDataset> LoadMnistStyle(const std::string& dir, Split split,
                                               std::vector<std::string> class_names);

// Shorthand for LoadMnistStyle(dir, split, FashionMnistClassNames()).
absl::StatusOr<InMemoryDataset> LoadFashionMnist(const std::string& dir, Split split);

}  // namespace simdnet

#endif  // SIMDNET_DATA_IDX_H_
