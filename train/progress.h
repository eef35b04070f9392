// Live training progress: on a terminal, one line redrawn in place with '\r' (rate-limited);
// elsewhere (CI logs, files) one plain line every few seconds. The clock and the output stream
// are injected so tests can drive time and read the output.
#ifndef SIMDNET_TRAIN_PROGRESS_H_
#define SIMDNET_TRAIN_PROGRESS_H_

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace simdnet {

// Returns seconds from a monotonic clock (std::chrono::steady_clock).
double MonotonicSeconds();
// Returns true if file descriptor `fd` is a terminal (isatty).
bool IsTerminal(int fd);
// Returns the column count of the terminal on `fd`, or `fallback` if unknown.
int TerminalColumns(int fd, int fallback = 80);
// Returns a duration as "M:SS" or "H:MM:SS" (rounded down to whole seconds); "?" for negative,
// NaN or infinite input.
std::string FormatDuration(double seconds);

struct ProgressOptions {
  std::string label;            // Prefix, e.g. "epoch 3/10".
  int64_t total_batches = 0;    // Batches in this phase; 0 if unknown (no bar, no ETA).
  bool is_terminal = false;     // Redraw in place (true) or print plain lines (false).
  double redraw_seconds = 0.1;  // Terminal: minimum time between redraws.
  double line_seconds = 10.0;   // Non-terminal: minimum time between lines.
  int columns = 80;             // Terminal width; the line is cut to columns - 1.
  int bar_width = 24;           // Characters inside the [====>   ] bar.
};

// What the trainer knows after a batch. Loss/accuracy are running means over the phase;
// accuracy is a fraction in [0, 1] (NaN shows as "nan").
struct ProgressStats {
  int64_t batches_done = 0;
  int64_t images_done = 0;
  double loss = 0.0;
  double accuracy = 0.0;
};

// Draws progress of one phase (an epoch, an evaluation) to `out`. Not thread-safe: call from
// the training loop thread.
class ProgressReporter {
 public:
  using Clock = std::function<double()>;  // Seconds, monotonic.

  // Starts the phase at clock(). Requires: out != nullptr, outliving this object.
  ProgressReporter(ProgressOptions options, std::ostream* out, Clock clock = &MonotonicSeconds);

  // Reports the state after a batch; draws only if the rate limit allows it (the first call
  // always draws). Returns true if something was written.
  bool Update(const ProgressStats& stats);
  // Draws the final state unconditionally and ends the line ("done in M:SS" instead of ETA).
  void Finish(const ProgressStats& stats);

  // Returns the status text (no '\r' or '\n') as it would be drawn at time `now`.
  std::string FormatLine(const ProgressStats& stats, double now, bool finished) const;

 private:
  void Draw(const std::string& line);

  ProgressOptions options_;
  std::ostream* out_;
  Clock clock_;
  double start_;
  double last_draw_ = 0.0;
  bool drawn_ = false;
  size_t last_length_ = 0;  // Terminal: length of the line on screen, to blank leftovers.
};

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_PROGRESS_H_
