// ProgressReporter: formatting of the status line and the terminal / plain-line policies.
#include "train/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/status_macros.h"

namespace simdnet {

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool IsTerminal(int fd) { return ::isatty(fd) == 1; }

int TerminalColumns(int fd, int fallback) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return fallback;
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) return "?";
  const int64_t s = static_cast<int64_t>(seconds);
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

ProgressReporter::ProgressReporter(ProgressOptions options, std::ostream* out, Clock clock)
    : options_(std::move(options)), out_(out), clock_(std::move(clock)), start_(clock_()) {
  SIMDNET_CHECK(out_ != nullptr);
}

std::string ProgressReporter::FormatLine(const ProgressStats& stats, double now,
                                         bool finished) const {
  const int64_t total = options_.total_batches;
  const int64_t done = std::max<int64_t>(0, stats.batches_done);
  const double elapsed = std::max(0.0, now - start_);
  std::string line = options_.label;
  if (!line.empty()) line += ' ';
  if (total > 0) {
    const double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
    if (options_.is_terminal && options_.bar_width > 0) {
      const int w = options_.bar_width;
      const int full = static_cast<int>(frac * w);
      std::string bar(static_cast<size_t>(w), ' ');
      std::fill(bar.begin(), bar.begin() + full, '=');
      if (full < w && done > 0) bar[static_cast<size_t>(full)] = '>';
      absl::StrAppend(&line, "[", bar, "] ");
    }
    absl::StrAppendFormat(&line, "%d/%d (%3.0f%%)", done, total, 100.0 * frac);
  } else {
    absl::StrAppend(&line, done, " batches");
  }
  if (elapsed > 0 && stats.images_done > 0) {
    absl::StrAppendFormat(&line, " | %.0f img/s", static_cast<double>(stats.images_done) / elapsed);
  }
  absl::StrAppendFormat(&line, " | loss %.4f | acc %.2f%%", stats.loss, 100.0 * stats.accuracy);
  if (finished) {
    absl::StrAppend(&line, " | done in ", FormatDuration(elapsed));
  } else if (total > 0) {
    const double eta = done > 0 && elapsed > 0
                           ? static_cast<double>(total - std::min(done, total)) * elapsed /
                                 static_cast<double>(done)
                           : -1.0;
    absl::StrAppend(&line, " | ETA ", FormatDuration(eta));
  }
  return line;
}

void ProgressReporter::Draw(const std::string& text) {
  if (!options_.is_terminal) {
    *out_ << text << '\n';
    out_->flush();
    return;
  }
  std::string line = text;
  const size_t max_len = static_cast<size_t>(std::max(1, options_.columns - 1));
  if (line.size() > max_len) line.resize(max_len);
  std::string padded = line;
  // Blank whatever the previous (longer) line left on screen.
  if (last_length_ > line.size()) padded.append(last_length_ - line.size(), ' ');
  last_length_ = line.size();
  *out_ << '\r' << padded;
  out_->flush();
}

bool ProgressReporter::Update(const ProgressStats& stats) {
  const double now = clock_();
  const double interval = options_.is_terminal ? options_.redraw_seconds : options_.line_seconds;
  if (drawn_ && now - last_draw_ < interval) return false;
  Draw(FormatLine(stats, now, /*finished=*/false));
  drawn_ = true;
  last_draw_ = now;
  return true;
}

void ProgressReporter::Finish(const ProgressStats& stats) {
  const double now = clock_();
  Draw(FormatLine(stats, now, /*finished=*/true));
  if (options_.is_terminal) {
    *out_ << '\n';
    out_->flush();
  }
  drawn_ = true;
  last_draw_ = now;
  last_length_ = 0;
}

}  // namespace simdnet
