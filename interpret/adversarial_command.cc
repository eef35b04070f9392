// The adversarial subcommand: attack chosen images, draw original | perturbation | result rows,
// print the numbers, and optionally sweep accuracy over epsilon.
#include "interpret/adversarial_command.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "interpret/adversarial.h"
#include "interpret/image.h"
#include "interpret/source.h"
#include "tensor/atomic_file.h"
#include "tensor/status_macros.h"
#include "train/plot.h"

namespace simdnet {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Resolves --target: a class name (case-insensitive) or an index in [0, K).
absl::StatusOr<int64_t> ResolveTarget(const LoadedModel& loaded, const std::string& target) {
  const int64_t k = loaded.model->num_classes();
  for (int64_t c = 0; c < k; ++c) {
    if (absl::EqualsIgnoreCase(loaded.ClassName(c), target)) return c;
  }
  int64_t index = 0;
  if (absl::SimpleAtoi(target, &index)) {
    if (index < 0 || index >= k) {
      return absl::InvalidArgumentError(
          absl::StrCat("--target=", target, ": must be in [0, ", k, ")"));
    }
    return index;
  }
  return absl::InvalidArgumentError(absl::StrCat("--target=", target, ": no such class (",
                                                 absl::StrJoin(loaded.class_names, ", "), ")"));
}

}  // namespace

absl::StatusOr<std::string> RunAdversarialCommand(const AdversarialCommandOptions& options) {
  if (options.out_dir.empty()) return absl::InvalidArgumentError("--out: none given");
  IterativeAttackOptions attack;
  attack.epsilon = options.epsilon;
  attack.alpha = options.alpha;
  attack.max_steps = options.max_steps;
  SIMDNET_RETURN_IF_ERROR(ValidateIterativeAttackOptions(attack));
  if (options.sweep && options.sweep_samples < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--samples=", options.sweep_samples, ": must be >= 1"));
  }
  SIMDNET_ASSIGN_OR_RETURN(LoadedModel loaded, LoadModelForInterpretation(options.checkpoint));
  SIMDNET_ASSIGN_OR_RETURN(PixelModel pm, loaded.Pixels());
  const Shape& in = pm.InputShape();
  if (in.rank() != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.checkpoint, ": adversarial examples need an image model (C, H, W); input is ",
        in.ToString()));
  }
  const bool targeted = !options.target.empty();
  int64_t target = -1;
  if (targeted) {
    SIMDNET_ASSIGN_OR_RETURN(target, ResolveTarget(loaded, options.target));
  }
  std::optional<InMemoryDataset> held_out;
  if (options.files.empty() || options.sweep) {
    SIMDNET_ASSIGN_OR_RETURN(held_out, LoadHeldOutImages(loaded, options.data));
  }
  SIMDNET_ASSIGN_OR_RETURN(
      ImageSelection sel,
      SelectImages(loaded, options.data, held_out ? &*held_out : nullptr, options.indices,
                   options.files, /*default_count=*/4));
  const int64_t n = sel.pixels.dim(0), k = pm.num_classes();

  // Attack.
  Tensor logits;
  SIMDNET_RETURN_IF_ERROR(pm.Forward(sel.pixels, &logits));
  const std::vector<int64_t> predicted = ArgMaxRows(logits);
  std::vector<TargetedAttackResult> results;
  Tensor adversarial;
  Clock::time_point t0 = Clock::now();
  if (targeted) {
    SIMDNET_ASSIGN_OR_RETURN(
        results, TargetedAttack(pm, sel.pixels, std::vector<int64_t>(n, target), attack,
                                &adversarial));
  } else {
    std::vector<int64_t> labels(static_cast<size_t>(n));
    for (int64_t s = 0; s < n; ++s) {
      const int32_t l = sel.labels[static_cast<size_t>(s)];
      labels[static_cast<size_t>(s)] = l >= 0 ? l : predicted[static_cast<size_t>(s)];
    }
    SIMDNET_ASSIGN_OR_RETURN(adversarial, Fgsm(pm, sel.pixels, labels, options.epsilon));
    // Report FGSM in the same terms: one step, "success" = the prediction changed.
    Tensor after;
    SIMDNET_RETURN_IF_ERROR(pm.Forward(adversarial, &after));
    const Tensor p0 = SoftmaxRows(logits), p1 = SoftmaxRows(after);
    const std::vector<int64_t> pred1 = ArgMaxRows(after);
    const int64_t per = sel.pixels.size() / n;
    for (int64_t s = 0; s < n; ++s) {
      TargetedAttackResult r;
      r.target = -1;
      r.steps = 1;
      r.class_before = predicted[static_cast<size_t>(s)];
      r.class_after = pred1[static_cast<size_t>(s)];
      r.success = r.class_after != labels[static_cast<size_t>(s)];
      r.p_original_before = p0[s * k + r.class_before];
      r.p_original_after = p1[s * k + r.class_before];
      double l2 = 0.0;
      for (int64_t j = 0; j < per; ++j) {
        const float d = adversarial[s * per + j] - sel.pixels[s * per + j];
        r.linf = std::max(r.linf, std::fabs(d));
        l2 += static_cast<double>(d) * d;
      }
      r.l2 = static_cast<float>(std::sqrt(l2));
      results.push_back(r);
    }
  }
  const double attack_seconds = SecondsSince(t0);
  Tensor after_logits;
  SIMDNET_RETURN_IF_ERROR(pm.Forward(adversarial, &after_logits));
  const Tensor p_after = SoftmaxRows(after_logits);

  // Picture and table.
  const int64_t c = in.dim(0), h = in.dim(1), w = in.dim(2), plane = h * w;
  const int scale = ScaleFor(std::max(h, w), 112);
  std::vector<Image> tiles;
  TileGridOptions grid;
  grid.cols = 3;
  grid.title = targeted ? absl::StrFormat("Targeted attack -> %s, eps %.3g",
                                          loaded.ClassName(target), options.epsilon)
                        : absl::StrFormat("FGSM, eps %.3g", options.epsilon);
  std::string table = absl::StrFormat("%-10s %-12s %-18s %-18s %5s %-7s %7s %7s %9s %9s\n",
                                       "image", "true", "before (p)", "after (p)", "steps",
                                       "success", "L_inf", "L2", "p_orig", "p_target");
  int64_t successes = 0, total_steps = 0;
  double sum_linf = 0.0, sum_l2 = 0.0;
  for (int64_t s = 0; s < n; ++s) {
    const TargetedAttackResult& r = results[static_cast<size_t>(s)];
    const std::string name = sel.names[static_cast<size_t>(s)];
    const int32_t label = sel.labels[static_cast<size_t>(s)];
    successes += r.success;
    total_steps += r.steps;
    sum_linf += r.linf;
    sum_l2 += r.l2;
    const std::string before =
        absl::StrFormat("%s %.2f", loaded.ClassName(r.class_before), r.p_original_before);
    const std::string after = absl::StrFormat("%s %.2f", loaded.ClassName(r.class_after),
                                              p_after[s * k + r.class_after]);
    const std::string p_target =
        targeted ? absl::StrFormat("%.3f>%.3f", r.p_target_before, r.p_target_after) : "-";
    absl::StrAppend(&table,
                    absl::StrFormat("%-10s %-12s %-18s %-18s %5d %-7s %7.4f %7.4f %.3f>%.3f %s\n",
                                    name, label >= 0 ? loaded.ClassName(label) : "-", before,
                                    after, r.steps, r.success ? "yes" : "no", r.linf, r.l2,
                                    r.p_original_before, r.p_original_after, p_target));
    const float* x0 = sel.pixels.data() + s * c * plane;
    const float* x1 = adversarial.data() + s * c * plane;
    std::vector<float> delta(static_cast<size_t>(c * plane));
    for (int64_t j = 0; j < c * plane; ++j) delta[static_cast<size_t>(j)] = x1[j] - x0[j];
    tiles.push_back(PixelsToImage(x0, c, h, w, scale));
    tiles.push_back(c == 1 ? DivergingImage(delta.data(), h, w, scale)
                           : StretchToImage(delta.data(), c, h, w, scale));
    tiles.push_back(PixelsToImage(x1, c, h, w, scale));
    grid.captions.push_back(absl::StrCat(name, " ", before));
    grid.captions.push_back(r.linf > 0.0f ? absl::StrFormat("delta x%.0f", 1.0f / r.linf)
                                          : std::string("no change"));
    grid.captions.push_back(targeted ? absl::StrFormat("%s (%d st)", after, r.steps) : after);
  }
  SIMDNET_RETURN_IF_ERROR(EnsureDirectory(options.out_dir));
  const std::filesystem::path dir(options.out_dir);
  const std::string png = (dir / "adversarial.png").string();
  SIMDNET_RETURN_IF_ERROR(WritePng(png, ComposeGrid(tiles, grid)));

  std::string out =
      targeted ? absl::StrFormat("iterative targeted attack (Kurakin et al. 2017) -> %s: eps "
                                 "%.4g, alpha %.4g, max %d steps, %d images, %.2f s\n",
                                 loaded.ClassName(target), options.epsilon, options.alpha,
                                 options.max_steps, n, attack_seconds)
               : absl::StrFormat("FGSM (Goodfellow et al. 2015), eps %.4g on %d images\n",
                                 options.epsilon, n);
  absl::StrAppend(&out, table);
  absl::StrAppend(
      &out, absl::StrFormat("%s %d/%d, mean steps %.1f, mean L_inf %.4f, mean L2 %.4f\n",
                            targeted ? "reached the target:" : "prediction changed:", successes,
                            n, static_cast<double>(total_steps) / static_cast<double>(n),
                            sum_linf / static_cast<double>(n), sum_l2 / static_cast<double>(n)));
  std::string written = png;

  if (options.sweep) {
    const int64_t count = std::min<int64_t>(options.sweep_samples, held_out->size());
    std::vector<int64_t> indices(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) indices[static_cast<size_t>(i)] = i;
    AttackSweepOptions so;
    so.epsilons = options.sweep_epsilons;
    so.steps = options.sweep_steps;
    so.alpha_fraction = options.sweep_alpha_fraction;
    t0 = Clock::now();
    SIMDNET_ASSIGN_OR_RETURN(std::vector<AttackSweepRow> rows,
                             AccuracyUnderAttack(pm, *held_out, indices, so));
    const double sweep_seconds = SecondsSince(t0);
    std::string csv = "eps,fgsm_accuracy,iterative_accuracy\n";
    absl::StrAppend(&out, absl::StrFormat("accuracy under attack, first %d test images "
                                          "(iterative: %d steps of %.3g * eps), %.1f s\n",
                                          count, so.steps, so.alpha_fraction, sweep_seconds));
    absl::StrAppend(&out, absl::StrFormat("%8s %10s %10s\n", "eps", "FGSM", "iterative"));
    PlotSeries fgsm{"FGSM", {}, {}}, iterative{"iterative (BIM)", {}, {}};
    for (const AttackSweepRow& r : rows) {
      absl::StrAppend(&csv, absl::StrFormat("%.6g,%.6f,%.6f\n", r.epsilon, r.fgsm_accuracy,
                                            r.iterative_accuracy));
      absl::StrAppend(&out, absl::StrFormat("%8.3f %9.2f%% %9.2f%%\n", r.epsilon,
                                            100.0 * r.fgsm_accuracy,
                                            100.0 * r.iterative_accuracy));
      fgsm.x.push_back(r.epsilon);
      fgsm.y.push_back(100.0 * r.fgsm_accuracy);
      iterative.x.push_back(r.epsilon);
      iterative.y.push_back(100.0 * r.iterative_accuracy);
    }
    const std::string csv_path = (dir / "sweep.csv").string();
    SIMDNET_RETURN_IF_ERROR(WriteFileAtomically(csv_path, csv));
    PlotOptions po;
    po.title = absl::StrFormat("Accuracy under attack (%d test images)", count);
    po.x_label = "epsilon (L_inf, pixels in [0, 1])";
    po.y_label = "accuracy (%)";
    const std::string plot_path = (dir / "sweep.svg").string();
    const std::vector<PlotSeries> series = {fgsm, iterative};
    SIMDNET_RETURN_IF_ERROR(WriteLinePlotSvg(plot_path, series, po));
    absl::StrAppend(&written, "\n  ", csv_path, "\n  ", plot_path);
  }
  absl::StrAppend(&out, "wrote ", written, "\n");
  return out;
}

}  // namespace simdnet
