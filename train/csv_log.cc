// CsvLog: RFC 4180 formatting and append-only row writing with per-row write() calls.
#include "train/csv_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

absl::Status ErrnoError(int err, absl::string_view what, absl::string_view path) {
  return absl::ErrnoToStatus(err, absl::StrCat("CsvLog: ", what, " '", path, "'"));
}

absl::Status WriteAll(int fd, absl::string_view bytes, absl::string_view path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write failed for", path);
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Reads the whole file behind fd from offset 0 (for the append-mode header check).
absl::StatusOr<std::string> ReadAllFd(int fd, absl::string_view path) {
  std::string out;
  char buf[65536];
  off_t pos = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof(buf), pos);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "read failed for", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    pos += n;
  }
  return out;
}

}  // namespace

std::string FormatCsvCell(const CsvCell& cell) {
  if (const int64_t* i = std::get_if<int64_t>(&cell)) return absl::StrCat(*i);
  if (const double* d = std::get_if<double>(&cell)) {
    if (std::isnan(*d)) return "nan";
    if (std::isinf(*d)) return *d > 0 ? "inf" : "-inf";
    return absl::StrFormat("%.9g", *d);
  }
  const std::string& s = std::get<std::string>(cell);
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string FormatCsvRow(absl::Span<const CsvCell> cells) {
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out += ',';
    out += FormatCsvCell(cells[i]);
  }
  out += '\n';
  return out;
}

absl::StatusOr<std::unique_ptr<CsvLog>> CsvLog::Open(absl::string_view path_view,
                                                     std::vector<std::string> columns, Mode mode,
                                                     int64_t keep_rows_through) {
  const std::string path(path_view);
  if (columns.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("CsvLog: no columns for '", path, "'"));
  }
  std::set<std::string> seen;
  for (const std::string& c : columns) {
    if (c.empty() || !seen.insert(c).second) {
      return absl::InvalidArgumentError(absl::StrCat("CsvLog: ", c.empty() ? "empty" : "duplicate",
                                                     " column name '", c, "' for '", path, "'"));
    }
  }
  std::vector<CsvCell> header_cells(columns.begin(), columns.end());
  const std::string header = FormatCsvRow(header_cells);

  const int flags = O_RDWR | O_CREAT | O_CLOEXEC | (mode == Mode::kTruncate ? O_TRUNC : 0);
  const int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return ErrnoError(errno, "cannot open", path);
  auto log = std::unique_ptr<CsvLog>(new CsvLog(path, std::move(columns), fd));

  std::string existing;
  if (mode == Mode::kAppend) {
    SIMDNET_ASSIGN_OR_RETURN(existing, ReadAllFd(fd, path));
  }
  // A crash while writing the header leaves a prefix of it: start over.
  if (!existing.empty() && existing.size() < header.size() &&
      header.compare(0, existing.size(), existing) == 0) {
    if (::ftruncate(fd, 0) != 0) return ErrnoError(errno, "cannot truncate", path);
    existing.clear();
  }
  if (existing.empty()) {
    SIMDNET_RETURN_IF_ERROR(WriteAll(fd, header, path));
    return log;
  }
  const size_t eol = existing.find('\n');
  const std::string first =
      existing.substr(0, eol == std::string::npos ? existing.size() : eol + 1);
  if (first != header) {
    std::string shown = first;
    if (!shown.empty() && shown.back() == '\n') shown.pop_back();
    return absl::FailedPreconditionError(absl::StrCat("CsvLog: cannot append to '", path,
                                                      "': its header '", shown, "' differs from '",
                                                      header.substr(0, header.size() - 1), "'"));
  }
  // Cut a partial row left by a crash so the next row starts on its own line.
  size_t keep = existing.rfind('\n') + 1;
  // Cut rows logged after the point the run resumes from.
  if (keep_rows_through != kKeepAllRows) {
    size_t line_start = first.size();
    for (int64_t line = 2; line_start < keep; ++line) {
      const size_t line_end = existing.find('\n', line_start);
      const absl::string_view row(existing.data() + line_start, line_end - line_start);
      const absl::string_view key = row.substr(0, row.find(','));
      int64_t value = 0;
      if (!absl::SimpleAtoi(key, &value)) {
        return absl::FailedPreconditionError(absl::StrCat("CsvLog: cannot resume '", path,
                                                          "': line ", line, " starts with '", key,
                                                          "', not an integer key"));
      }
      if (value > keep_rows_through) {
        keep = line_start;
        break;
      }
      line_start = line_end + 1;
    }
  }
  if (keep != existing.size() && ::ftruncate(fd, static_cast<off_t>(keep)) != 0) {
    return ErrnoError(errno, "cannot cut the partial last row of", path);
  }
  if (::lseek(fd, 0, SEEK_END) < 0) return ErrnoError(errno, "cannot seek in", path);
  return log;
}

CsvLog::~CsvLog() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status CsvLog::Append(absl::Span<const CsvCell> cells) {
  if (fd_ < 0) {
    return absl::FailedPreconditionError(absl::StrCat("CsvLog: '", path_, "' is closed"));
  }
  if (cells.size() != columns_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CsvLog: row for '", path_, "' has ", cells.size(), " cells, expected ",
                     columns_.size(), " (", absl::StrJoin(columns_, ","), ")"));
  }
  SIMDNET_RETURN_IF_ERROR(WriteAll(fd_, FormatCsvRow(cells), path_));
  ++rows_;
  return absl::OkStatus();
}

absl::Status CsvLog::Close() {
  if (fd_ < 0) return absl::OkStatus();
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return ErrnoError(errno, "close failed for", path_);
  return absl::OkStatus();
}

std::vector<std::string> EpochCsvColumns() {
  return {"epoch",         "train_loss",    "train_accuracy", "test_loss",
          "test_accuracy", "learning_rate", "epoch_seconds",  "images_per_second"};
}

std::vector<CsvCell> EpochCsvRow(const EpochRecord& r) {
  return {r.epoch,         r.train_loss,    r.train_accuracy, r.test_loss,
          r.test_accuracy, r.learning_rate, r.epoch_seconds,  r.images_per_second};
}

std::vector<std::string> IterationCsvColumns() {
  return {
      "step",           "epoch", "batch", "loss", "accuracy", "learning_rate", "images_per_second",
      "elapsed_seconds"};
}

std::vector<CsvCell> IterationCsvRow(const IterationRecord& r) {
  return {
      r.step,           r.epoch, r.batch, r.loss, r.accuracy, r.learning_rate, r.images_per_second,
      r.elapsed_seconds};
}

}  // namespace simdnet
