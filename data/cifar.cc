// CIFAR binary batch parsing (sizes checked before allocation) and the directory loader.
#include "data/cifar.h"

#include <sys/stat.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "data/file_util.h"
#include "tensor/atomic_file.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Reads one class name per non-empty line; falls back to "class_<k>" if the file is absent.
absl::StatusOr<std::vector<std::string>> ReadClassNames(const std::string& path, int num_classes) {
  std::vector<std::string> names;
  if (!FileExists(path)) {
    for (int k = 0; k < num_classes; ++k) names.push_back(absl::StrCat("class_", k));
    return names;
  }
  SIMDNET_ASSIGN_OR_RETURN(std::string text, ReadFile(path, uint64_t{1} << 20));
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);  // also strips CR of CRLF files
    if (!line.empty()) names.emplace_back(line);
  }
  if (static_cast<int>(names.size()) != num_classes) {
    return absl::InvalidArgumentError(absl::StrCat("class-name file '", path, "' lists ",
                                                   names.size(), " names; expected ",
                                                   num_classes));
  }
  return names;
}

}  // namespace

int64_t CifarRecordBytes(CifarKind kind) {
  return (kind == CifarKind::kCifar10 ? 1 : 2) + kCifarImageBytes;
}

int CifarNumClasses(CifarKind kind) {
  switch (kind) {
    case CifarKind::kCifar10:
      return 10;
    case CifarKind::kCifar100Fine:
      return 100;
    case CifarKind::kCifar100Coarse:
      return 20;
  }
  return 0;
}

absl::Status ParseCifarBatch(absl::string_view bytes, absl::string_view name, CifarKind kind,
                             InMemoryDataset* out) {
  SIMDNET_CHECK(out->num == 0 || (out->channels == 3 && out->height == 32 && out->width == 32));
  const int64_t record = CifarRecordBytes(kind);
  const int64_t size = static_cast<int64_t>(bytes.size());
  if (size == 0) {
    return absl::InvalidArgumentError(absl::StrCat("CIFAR batch '", name, "' is empty (zero images)"));
  }
  if (size % record != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CIFAR batch '", name, "' has ", size, " bytes, not a multiple of the ", record,
        "-byte record: truncated, or the wrong CIFAR variant (", size / record,
        " whole records, ", size % record, " bytes left over)"));
  }
  const int64_t n = size / record;
  const int num_classes = CifarNumClasses(kind);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  // Check every label before growing `out`, so a bad file leaves it unchanged.
  const int label_offset = kind == CifarKind::kCifar100Fine ? 1 : 0;
  for (int64_t i = 0; i < n; ++i) {
    const int label = p[i * record + label_offset];
    if (label >= num_classes) {
      return absl::InvalidArgumentError(absl::StrCat("CIFAR batch '", name, "': label ", label,
                                                     " of record ", i, " (byte offset ",
                                                     i * record + label_offset,
                                                     ") is out of range [0, ", num_classes, ")"));
    }
  }
  out->channels = 3;
  out->height = 32;
  out->width = 32;
  const size_t old_bytes = out->pixels.size();
  out->pixels.resize(old_bytes + static_cast<size_t>(n * kCifarImageBytes));
  out->labels.reserve(out->labels.size() + static_cast<size_t>(n));
  const int64_t label_bytes = record - kCifarImageBytes;
  for (int64_t i = 0; i < n; ++i) {
    const unsigned char* rec = p + i * record;
    out->labels.push_back(rec[label_offset]);
    std::copy_n(rec + label_bytes, kCifarImageBytes,
                out->pixels.data() + old_bytes + i * kCifarImageBytes);
  }
  out->num += n;
  return absl::OkStatus();
}

absl::StatusOr<InMemoryDataset> LoadCifar(const std::string& dir, CifarKind kind, Split split) {
  std::vector<std::string> files;
  std::string names_file;
  if (kind == CifarKind::kCifar10) {
    if (split == Split::kTrain) {
      for (int b = 1; b <= 5; ++b) files.push_back(absl::StrCat(dir, "/data_batch_", b, ".bin"));
    } else {
      files.push_back(absl::StrCat(dir, "/test_batch.bin"));
    }
    names_file = absl::StrCat(dir, "/batches.meta.txt");
  } else {
    files.push_back(absl::StrCat(dir, split == Split::kTrain ? "/train.bin" : "/test.bin"));
    names_file = absl::StrCat(dir, kind == CifarKind::kCifar100Fine ? "/fine_label_names.txt"
                                                                    : "/coarse_label_names.txt");
  }
  InMemoryDataset out;
  SIMDNET_ASSIGN_OR_RETURN(out.classes, ReadClassNames(names_file, CifarNumClasses(kind)));
  for (const std::string& file : files) {
    // 256 MiB is above the 154 MB of CIFAR-100's train.bin and bounds hostile inputs.
    SIMDNET_ASSIGN_OR_RETURN(std::string bytes, ReadFile(file, uint64_t{256} << 20));
    SIMDNET_RETURN_IF_ERROR(ParseCifarBatch(bytes, file, kind, &out));
  }
  SIMDNET_RETURN_IF_ERROR(out.Validate(dir));
  return out;
}

}  // namespace simdnet
