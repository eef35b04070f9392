// CSV logs of a training run: metrics.csv (one row per epoch) and a finer per-iteration log.
// Each row is written with one write() call as soon as it is appended, so a crash loses at
// most the row being written, and `tail -f` / plotting tools see progress live.
#ifndef SIMDNET_TRAIN_CSV_LOG_H_
#define SIMDNET_TRAIN_CSV_LOG_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace simdnet {

// One CSV field: an integer, a real number or text.
using CsvCell = std::variant<int64_t, double, std::string>;

// Returns the text of one field: integers in decimal; doubles with 9 significant digits
// (enough to round-trip a float) as "nan", "inf", "-inf" when not finite; strings quoted per
// RFC 4180 (doubling inner quotes) when they contain a comma, quote, CR or LF.
std::string FormatCsvCell(const CsvCell& cell);

// Returns the fields joined by commas, terminated by "\n".
std::string FormatCsvRow(absl::Span<const CsvCell> cells);

// Appends rows of a fixed column list to a CSV file. Not thread-safe.
class CsvLog {
 public:
  enum class Mode {
    kTruncate,  // Start a new file (replacing any old one) and write the header row.
    kAppend,    // Resume: keep existing rows if the header matches; a partial last row left by
                // a crash is cut off. Writes the header if the file is missing or empty.
  };

  // Keeps every existing row in kAppend mode (see Open's `keep_rows_through`).
  static constexpr int64_t kKeepAllRows = std::numeric_limits<int64_t>::max();

  // Opens `path` for appending rows with the given column names.
  // In kAppend mode, rows whose first field (an integer key such as the epoch or the step) is
  // greater than `keep_rows_through` are cut off, from the first such row on: a run resumed
  // from the checkpoint of epoch/step N passes N, so rows logged after that checkpoint and
  // before a crash are not duplicated when they are redone.
  // Returns InvalidArgument for no columns, an empty or duplicate column name;
  // FailedPrecondition (naming the path and both header lines) when appending to a file whose
  // header differs, or (naming the line) when a row's first field is not an integer while
  // keep_rows_through is set; errno-mapped errors naming the path for I/O failures.
  static absl::StatusOr<std::unique_ptr<CsvLog>> Open(absl::string_view path,
                                                      std::vector<std::string> columns,
                                                      Mode mode = Mode::kTruncate,
                                                      int64_t keep_rows_through = kKeepAllRows);
  ~CsvLog();
  CsvLog(const CsvLog&) = delete;
  CsvLog& operator=(const CsvLog&) = delete;

  // Writes one row and hands it to the OS before returning.
  // Returns InvalidArgument (naming the path and both counts) if cells.size() differs from the
  // column count; an errno-mapped error naming the path if the write fails.
  absl::Status Append(absl::Span<const CsvCell> cells);
  // Closes the file; further Appends fail. Returns the close() error, if any.
  absl::Status Close();

  // Returns the file path given to Open.
  const std::string& path() const { return path_; }
  // Returns the column names, in order.
  const std::vector<std::string>& columns() const { return columns_; }
  // Returns the number of data rows appended through this object.
  int64_t rows_appended() const { return rows_; }

 private:
  CsvLog(std::string path, std::vector<std::string> columns, int fd)
      : path_(std::move(path)), columns_(std::move(columns)), fd_(fd) {}

  std::string path_;
  std::vector<std::string> columns_;
  int fd_;
  int64_t rows_ = 0;
};

// One row of metrics.csv. Accuracies are fractions in [0, 1]; NaN where not measured (for
// example no test set).
struct EpochRecord {
  int64_t epoch = 0;  // 1-based.
  double train_loss = 0.0;
  double train_accuracy = 0.0;
  double test_loss = 0.0;
  double test_accuracy = 0.0;
  double learning_rate = 0.0;
  double epoch_seconds = 0.0;
  double images_per_second = 0.0;
};
// Returns the metrics.csv column names, in EpochRecord field order.
std::vector<std::string> EpochCsvColumns();
// Returns the cells of one metrics.csv row.
std::vector<CsvCell> EpochCsvRow(const EpochRecord& r);

// One row of the per-iteration log.
struct IterationRecord {
  int64_t step = 0;   // Global optimizer step, 1-based.
  int64_t epoch = 0;  // 1-based.
  int64_t batch = 0;  // Batch index within the epoch, 1-based.
  double loss = 0.0;
  double accuracy = 0.0;
  double learning_rate = 0.0;
  double images_per_second = 0.0;
  double elapsed_seconds = 0.0;  // Since the start of training.
};
// Returns the per-iteration log column names, in IterationRecord field order.
std::vector<std::string> IterationCsvColumns();
// Returns the cells of one per-iteration row.
std::vector<CsvCell> IterationCsvRow(const IterationRecord& r);

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_CSV_LOG_H_
