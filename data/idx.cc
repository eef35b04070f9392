// IDX parsing with every size checked before any allocation, and the Fashion-MNIST loader.
#include "data/idx.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

uint32_t ReadBigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Returns dir/base.gz if it exists, else dir/base if it exists, else NotFound.
absl::StatusOr<std::string> FindIdxFile(const std::string& dir, const std::string& base) {
  const std::string gz = absl::StrCat(dir, "/", base, ".gz");
  if (FileExists(gz)) return gz;
  const std::string plain = absl::StrCat(dir, "/", base);
  if (FileExists(plain)) return plain;
  return absl::NotFoundError(absl::StrCat("IDX file '", base, "[.gz]' not found in directory '",
                                          dir, "' (pass the data set directory explicitly)"));
}

}  // namespace

absl::StatusOr<IdxArray> ParseIdx(absl::string_view bytes, absl::string_view name,
                                  int64_t max_elements) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 4) {
    return absl::InvalidArgumentError(absl::StrCat("IDX file '", name, "' is truncated: ",
                                                   bytes.size(), " bytes, the header needs 4"));
  }
  if (p[0] != 0 || p[1] != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "IDX file '%s' has a wrong magic number 0x%02x%02x%02x%02x (expected 0x0000 then type and "
        "rank): not an IDX file, or still compressed with something other than gzip?",
        std::string(name), p[0], p[1], p[2], p[3]));
  }
  if (p[2] != 0x08) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "IDX file '%s' has element type 0x%02x; only unsigned bytes (0x08) are supported",
        std::string(name), p[2]));
  }
  const int rank = p[3];
  if (rank < 1 || rank > 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("IDX file '", name, "' has rank ", rank, "; expected 1 to 4"));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  if (bytes.size() < header) {
    return absl::InvalidArgumentError(absl::StrCat("IDX file '", name, "' is truncated: ",
                                                   bytes.size(), " bytes, the rank-", rank,
                                                   " header needs ", header));
  }
  IdxArray out;
  int64_t count = 1;
  for (int d = 0; d < rank; ++d) {
    const int64_t dim = ReadBigEndian32(p + 4 + 4 * d);
    out.dims.push_back(dim);
    // dim < 2^32 and count <= max_elements < 2^62 after each step, so the product cannot
    // overflow int64 before the check.
    if (dim != 0 && count > max_elements / dim) {
      return absl::InvalidArgumentError(absl::StrCat(
          "IDX file '", name, "': dimensions overflow the element limit of ", max_elements,
          " at dim ", d, " (size ", dim, ")"));
    }
    count *= dim;
  }
  const int64_t payload = static_cast<int64_t>(bytes.size() - header);
  if (payload != count) {
    std::string dims_text;
    for (size_t d = 0; d < out.dims.size(); ++d) {
      absl::StrAppend(&dims_text, d ? " x " : "", out.dims[d]);
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "IDX file '", name, "': dimensions ", dims_text, " need ", count, " data bytes but the file has ",
        payload, payload < count ? " (truncated file)" : " (trailing bytes)"));
  }
  out.data.assign(p + header, p + bytes.size());
  return out;
}

absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path, int64_t max_bytes) {
  SIMDNET_ASSIGN_OR_RETURN(std::string bytes, ReadMaybeGzipFile(path, max_bytes));
  return ParseIdx(bytes, path, max_bytes);
}

absl::StatusOr<InMemoryDataset> IdxToDataset(IdxArray images, const IdxArray& labels,
                                             std::vector<std::string> class_names,
                                             absl::string_view name) {
  if (images.dims.size() != 3) {
    return absl::InvalidArgumentError(absl::StrCat("IDX images of '", name, "' have rank ",
                                                   images.dims.size(), "; expected 3 (N, H, W)"));
  }
  if (labels.dims.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("IDX labels of '", name, "' have rank ",
                                                   labels.dims.size(), "; expected 1 (N)"));
  }
  if (images.dims[0] != labels.dims[0]) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "': ", images.dims[0],
                                                   " images but ", labels.dims[0], " labels"));
  }
  if (images.dims[0] == 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' contains zero images"));
  }
  if (images.dims[1] == 0 || images.dims[2] == 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' has empty images (",
                                                   images.dims[1], " x ", images.dims[2], ")"));
  }
  for (size_t k = 0; k < labels.data.size(); ++k) {
    if (labels.data[k] >= class_names.size()) {
      return absl::InvalidArgumentError(absl::StrCat("'", name, "': label ", int{labels.data[k]},
                                                     " of image ", k, " is out of range [0, ",
                                                     class_names.size(), ")"));
    }
  }
  InMemoryDataset out;
  out.num = images.dims[0];
  out.channels = 1;
  out.height = images.dims[1];
  out.width = images.dims[2];
  out.pixels = std::move(images.data);
  out.labels.assign(labels.data.begin(), labels.data.end());
  out.classes = std::move(class_names);
  SIMDNET_RETURN_IF_ERROR(out.Validate(std::string(name)));
  return out;
}

absl::StatusOr<InMemoryDataset> LoadIdxDataset(const std::string& images_path,
                                               const std::string& labels_path,
                                               std::vector<std::string> class_names) {
  SIMDNET_ASSIGN_OR_RETURN(IdxArray images, ReadIdxFile(images_path));
  SIMDNET_ASSIGN_OR_RETURN(IdxArray labels, ReadIdxFile(labels_path));
  return IdxToDataset(std::move(images), labels, std::move(class_names),
                      absl::StrCat(images_path, " + ", labels_path));
}

std::vector<std::string> FashionMnistClassNames() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

std::vector<std::string> MnistClassNames() {
  return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
}

absl::StatusOr<InMemoryDataset> LoadMnistStyle(const std::string& dir, Split split,
                                               std::vector<std::string> class_names) {
  const std::string root = dir.empty() ? std::string(kDefaultFashionMnistDir) : dir;
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  SIMDNET_ASSIGN_OR_RETURN(std::string images,
                           FindIdxFile(root, absl::StrCat(prefix, "-images-idx3-ubyte")));
  SIMDNET_ASSIGN_OR_RETURN(std::string labels,
                           FindIdxFile(root, absl::StrCat(prefix, "-labels-idx1-ubyte")));
  return LoadIdxDataset(images, labels, std::move(class_names));
}

absl::StatusOr<InMemoryDataset> LoadFashionMnist(const std::string& dir, Split split) {
  return LoadMnistStyle(dir, split, FashionMnistClassNames());
}

}  // namespace simdnet
