// Trainer implementation: the epoch loop, evaluation, checkpointing and resume.
#include "train/trainer.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "data/batcher.h"
#include "data/loader.h"
#include "layers/dropout.h"
#include "layers/loss.h"
#include "nlohmann/json.hpp"
#include "optim/clip.h"
#include "optim/make_optimizer.h"
#include "tensor/atomic_file.h"
#include "tensor/elementwise.h"
#include "tensor/reduce.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"
#include "train/batch_split.h"
#include "train/progress.h"

namespace simdnet {
namespace {

using json = nlohmann::json;


std::vector<int64_t> ToInt64(const std::vector<int32_t>& v) {
  return std::vector<int64_t>(v.begin(), v.end());
}

json EpochToJson(const EpochRecord& r) {
  return json{{"epoch", r.epoch},
              {"train_loss", r.train_loss},
              {"train_accuracy", r.train_accuracy},
              {"test_loss", r.test_loss},
              {"test_accuracy", r.test_accuracy},
              {"learning_rate", r.learning_rate},
              {"epoch_seconds", r.epoch_seconds},
              {"images_per_second", r.images_per_second}};
}

double JsonNumber(const json& j, const char* key, double fallback) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return fallback;
  return it->get<double>();
}

int64_t JsonInt(const json& j, const char* key, int64_t fallback) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return fallback;
  return it->get<int64_t>();
}

// Prefixes the error of parsing option `field` with "TrainerOptions.<field>: ".
template <typename T>
absl::StatusOr<T> NameField(absl::StatusOr<T> v, absl::string_view field) {
  if (v.ok()) return v;
  return absl::Status(v.status().code(),
                      absl::StrCat("TrainerOptions.", field, ": ", v.status().message()));
}

// A stream that drops everything (TrainerOptions::log == nullptr).
std::ostream& NullStream() {
  static std::ostream null(nullptr);
  return null;
}

}  // namespace

absl::Status ValidateTrainerOptions(const TrainerOptions& o) {
  // Messages name the option field ("TrainerOptions.epochs=0: ..."); the CLI maps fields to
  // its flag names (TrainerStatusWithFlagNames in train/commands.cc).
  auto bad = [](absl::string_view field, auto value, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("TrainerOptions.", field, "=", value, ": ", why));
  };
  if (o.epochs < 1 || o.epochs > 100000) return bad("epochs", o.epochs, "must be in [1, 100000]");
  if (o.batch_size < 1 || o.batch_size > 65536) {
    return bad("batch_size", o.batch_size, "must be in [1, 65536]");
  }
  if (o.loss != "xent" && o.loss != "svm" && o.loss != "nll") {
    return bad("loss", o.loss, "must be 'xent', 'svm' or 'nll'");
  }
  for (float w : o.class_weights) {
    if (!(std::isfinite(w) && w >= 0.0f)) {
      return bad("class_weights", w, "every weight must be finite and >= 0");
    }
  }
  if (!o.class_weights.empty() && o.loss == "svm") {
    return bad("class_weights", o.class_weights.size(),
               "weights apply to TrainerOptions.loss=xent or nll");
  }
  if (!(o.label_smoothing >= 0.0f && o.label_smoothing < 1.0f)) {
    return bad("label_smoothing", o.label_smoothing, "must be in [0, 1)");
  }
  if (!(o.clip_norm >= 0.0) || !std::isfinite(o.clip_norm)) {
    return bad("clip_norm", o.clip_norm, "must be >= 0 (0 = off)");
  }
  if (!(o.clip_value >= 0.0) || !std::isfinite(o.clip_value)) {
    return bad("clip_value", o.clip_value, "must be >= 0 (0 = off)");
  }
  if (o.early_stopping_patience < 0) {
    return bad("early_stopping_patience", o.early_stopping_patience, "must be >= 0 (0 = off)");
  }
  if (o.max_batches_per_epoch < 0) {
    return bad("max_batches_per_epoch", o.max_batches_per_epoch, "must be >= 0 (0 = all)");
  }
  if (o.log_every < 1) return bad("log_every", o.log_every, "must be >= 1");
  if (o.batch_split != "auto" && o.batch_split != "on" && o.batch_split != "off") {
    return bad("batch_split", o.batch_split, "must be 'auto', 'on' or 'off'");
  }
  if (o.prefetch < 1 || o.prefetch > 64) return bad("prefetch", o.prefetch, "must be in [1, 64]");
  if (o.snapshot_every < 0) return bad("snapshot_every", o.snapshot_every, "must be >= 0");
  if (o.stop_after < 0) return bad("stop_after", o.stop_after, "must be >= 0");
  if (!(o.progress_line_seconds > 0.0)) {
    return bad("progress_line_seconds", o.progress_line_seconds, "must be > 0");
  }
  if (o.run_dir.empty()) {
    return absl::InvalidArgumentError("TrainerOptions.run_dir: a run directory is required");
  }
  return absl::OkStatus();
}

Trainer::~Trainer() = default;

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const TrainerOptions& options,
                                                         const TrainingData& data, Model* model,
                                                         CheckpointInfo info) {
  SIMDNET_RETURN_IF_ERROR(ValidateTrainerOptions(options));
  if (data.train == nullptr || data.train->size() == 0) {
    return absl::InvalidArgumentError("trainer: the training set is empty");
  }
  if (data.train->sample_shape() != model->InputShape()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "trainer: training samples have shape ", data.train->sample_shape().ToString(),
        " but the model expects ", model->InputShape().ToString()));
  }
  if (!options.class_weights.empty() &&
      static_cast<int64_t>(options.class_weights.size()) != model->num_classes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TrainerOptions.class_weights: ", options.class_weights.size(), " weights for ",
        model->num_classes(), " classes"));
  }
  if (options.loss == "nll") {
    std::string last;
    model->ForEachLayer([&](const std::string&, Layer& layer, int) {
      if (layer.Children().empty()) last = layer.TypeName();
    });
    if (last != "log_softmax") {
      return absl::InvalidArgumentError(absl::StrCat(
          "TrainerOptions.loss=nll needs a model that ends in log_softmax (its last layer is '",
          last, "'); add 'log_softmax' to the spec, or use TrainerOptions.loss=xent on logits"));
    }
  }
  if (static_cast<int64_t>(data.train->class_names().size()) > model->num_classes()) {
    return absl::InvalidArgumentError(
        absl::StrCat("trainer: the data has ", data.train->class_names().size(),
                     " classes but the model outputs ", model->num_classes()));
  }
  SIMDNET_RETURN_IF_ERROR(
      CheckNormalizationShape(data.normalization, data.train->sample_shape()));
  std::unique_ptr<Trainer> t(new Trainer());
  t->options_ = options;
  if (t->options_.log == nullptr) t->options_.log = &NullStream();
  t->data_ = data;
  t->model_ = model;
  t->info_ = std::move(info);
  t->info_.normalization = data.normalization;
  SIMDNET_ASSIGN_OR_RETURN(t->optimizer_,
                           NameField(MakeOptimizer(options.optimizer), "optimizer"));
  // "auto" in the schedule spec stands for the run's total number of iterations.
  int64_t per_epoch = (data.train->size() + options.batch_size - 1) / options.batch_size;
  if (options.max_batches_per_epoch > 0) {
    per_epoch = std::min(per_epoch, options.max_batches_per_epoch);
  }
  const std::string schedule_spec = absl::StrReplaceAll(
      options.schedule, {{"=auto", absl::StrCat("=", std::max<int64_t>(2, per_epoch * options.epochs))}});
  SIMDNET_ASSIGN_OR_RETURN(t->schedule_, NameField(MakeSchedule(schedule_spec), "schedule"));
  SIMDNET_ASSIGN_OR_RETURN(t->regularizer_,
                           NameField(Regularizer::Parse(options.regularizer), "regularizer"));
  SIMDNET_ASSIGN_OR_RETURN(t->augmenter_, NameField(ParseAugmentSpec(options.augment), "augment"));
  t->info_.optimizer_spec = t->optimizer_->ToSpec();
  t->info_.schedule_spec = t->schedule_.ToSpec();
  if (options.comm != nullptr && options.comm->size() > 1) {
    if (options.dist_bucket_bytes < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "TrainerOptions.dist_bucket_bytes=", options.dist_bucket_bytes, ": must be >= 1"));
    }
    GradientSyncOptions so;
    so.bucket_bytes = options.dist_bucket_bytes;
    SIMDNET_ASSIGN_OR_RETURN(t->sync_, GradientSync::Create(model, options.comm, so));
    // Rank 0 alone writes run_dir and talks; the others would only repeat it.
    t->writes_files_ = options.comm->rank() == 0;
    if (!t->writes_files_) {
      t->options_.progress = false;
      t->options_.log = &NullStream();
      return t;
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(options.run_dir, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("TrainerOptions.run_dir=", options.run_dir,
                     ": cannot create directory: ", ec.message()));
  }
  // Temp files of a writer killed mid-write ("checkpoint.safetensors.tmp.<pid>.<n>", up to a
  // checkpoint's size) would otherwise stay forever.
  absl::StatusOr<int64_t> stale = RemoveStaleTempFiles(options.run_dir);
  if (!stale.ok()) return stale.status();
  return t;
}

std::string Trainer::PositionJson() const {
  json j;
  j["epoch"] = epoch_;
  j["batch_in_epoch"] = batch_in_epoch_;
  j["iteration"] = iteration_;
  j["epoch_loss_sum"] = epoch_loss_sum_;
  j["epoch_samples"] = epoch_samples_;
  j["epoch_correct"] = epoch_correct_;
  j["epoch_seconds_before"] = epoch_seconds_before_;
  j["best_accuracy"] = best_accuracy_;
  j["best_epoch"] = best_epoch_;
  j["epochs_without_improvement"] = epochs_without_improvement_;
  j["snapshots_saved"] = snapshots_saved_;
  j["seed"] = options_.seed;
  j["epochs"] = options_.epochs;
  j["batch_size"] = options_.batch_size;
  json hist = json::array();
  for (const EpochRecord& r : history_) hist.push_back(EpochToJson(r));
  j["history"] = hist;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::Status Trainer::Resume(const Checkpoint& ckpt) {
  json j = json::parse(ckpt.info.trainer_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ckpt.path, ": checkpoint metadata 'trainer' is not a JSON object"));
  }
  epoch_ = JsonInt(j, "epoch", -1);
  batch_in_epoch_ = JsonInt(j, "batch_in_epoch", -1);
  iteration_ = JsonInt(j, "iteration", -1);
  if (epoch_ < 0 || batch_in_epoch_ < 0 || iteration_ < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        ckpt.path, ": checkpoint metadata 'trainer' lacks a valid epoch/batch/iteration"));
  }
  const int64_t saved_batch = JsonInt(j, "batch_size", options_.batch_size);
  if (saved_batch != options_.batch_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("TrainerOptions.batch_size=", options_.batch_size,
                     " differs from the checkpoint's ",
                     saved_batch, " (", ckpt.path, "): resuming needs the same batch size"));
  }
  epoch_loss_sum_ = JsonNumber(j, "epoch_loss_sum", 0.0);
  epoch_samples_ = JsonInt(j, "epoch_samples", 0);
  epoch_correct_ = JsonInt(j, "epoch_correct", 0);
  epoch_seconds_before_ = JsonNumber(j, "epoch_seconds_before", 0.0);
  best_accuracy_ = JsonNumber(j, "best_accuracy", -1.0);
  best_epoch_ = JsonInt(j, "best_epoch", 0);
  epochs_without_improvement_ = JsonInt(j, "epochs_without_improvement", 0);
  snapshots_saved_ = JsonInt(j, "snapshots_saved", 0);
  history_.clear();
  auto hist = j.find("history");
  if (hist != j.end() && hist->is_array()) {
    for (const json& r : *hist) {
      EpochRecord e;
      e.epoch = JsonInt(r, "epoch", 0);
      e.train_loss = JsonNumber(r, "train_loss", NAN);
      e.train_accuracy = JsonNumber(r, "train_accuracy", NAN);
      e.test_loss = JsonNumber(r, "test_loss", NAN);
      e.test_accuracy = JsonNumber(r, "test_accuracy", NAN);
      e.learning_rate = JsonNumber(r, "learning_rate", NAN);
      e.epoch_seconds = JsonNumber(r, "epoch_seconds", NAN);
      e.images_per_second = JsonNumber(r, "images_per_second", NAN);
      history_.push_back(e);
    }
  }
  if (ckpt.optimizer_state.has_value()) {
    SIMDNET_RETURN_IF_ERROR(optimizer_->ImportState(*ckpt.optimizer_state));
  }
  return absl::OkStatus();
}

absl::Status Trainer::SaveTo(const std::string& path) {
  CheckpointInfo info = info_;
  info.trainer_json = PositionJson();
  return SaveCheckpoint(path, *model_, info, optimizer_.get());
}

absl::Status Trainer::CheckFinite(float loss) const {
  if (!std::isfinite(loss)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "iteration ", iteration_ + 1, " (epoch ", epoch_ + 1, ", batch ", batch_in_epoch_ + 1,
        "): the loss is ", loss, "; stopping (the last good checkpoint is kept). Try a lower "
        "learning rate or --clip_norm"));
  }
  for (const NamedParameter& p : model_->Params()) {
    if (p.param->frozen) continue;
    const float norm = SquaredL2Norm(p.param->grad.data(), static_cast<size_t>(p.param->grad.size()));
    if (!std::isfinite(norm)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "iteration ", iteration_ + 1, " (epoch ", epoch_ + 1, ", batch ", batch_in_epoch_ + 1,
          "): the gradient of '", p.name, "' is not finite; stopping (the last good checkpoint "
          "is kept). Try a lower learning rate or --clip_norm"));
    }
  }
  return absl::OkStatus();
}

SliceLoss Trainer::TrainingLoss(LossReduction reduction) const {
  if (options_.loss == "svm") {
    const bool sum = reduction == LossReduction::kSum;
    return [sum](const Tensor& z, absl::Span<const int64_t> l,
                 Tensor* dz) -> absl::StatusOr<float> {
      SIMDNET_ASSIGN_OR_RETURN(const float mean, MulticlassSvm(z, l, dz));
      if (!sum) return mean;
      const float rows = static_cast<float>(l.size());
      Scale(rows, dz->data(), static_cast<size_t>(dz->size()));
      return mean * rows;
    };
  }
  if (options_.loss == "nll") {
    NllLossOptions no;
    no.class_weights = options_.class_weights;
    no.reduction = reduction;
    return [no](const Tensor& z, absl::Span<const int64_t> l, Tensor* dz) {
      return NllLoss(z, l, dz, no);
    };
  }
  SoftmaxCrossEntropyOptions xo;
  xo.label_smoothing = options_.label_smoothing;
  xo.class_weights = options_.class_weights;
  xo.reduction = reduction;
  return [xo](const Tensor& z, absl::Span<const int64_t> l, Tensor* dz) {
    return SoftmaxCrossEntropy(z, l, dz, xo);
  };
}

absl::StatusOr<float> Trainer::TrainStep(const Tensor& images, const std::vector<int64_t>& labels,
                                         int64_t global_n, double lr, int64_t* correct) {
  const bool split = split_ != nullptr && !LayerTimerInstalled();
  if (!split) model_->ZeroGrad();  // BatchSplit zeroes them in its parallel loop
  const int64_t n = static_cast<int64_t>(labels.size());
  float loss = 0.0f;
  int64_t local_correct = 0;
  // The local batch's gradient enters the sum over ranks weighted by its share of the global
  // batch: the sum is then the gradient of the global batch's mean loss. With class weights
  // (xent / nll) that mean divides by the sum of the targets' weights, so the share is this
  // rank's part of that sum (one more small allreduce, before the backward pass).
  double share = static_cast<double>(n), total = static_cast<double>(global_n);
  if (sync_ && !options_.class_weights.empty() && options_.loss != "svm") {
    double weights[2] = {0.0, 0.0};  // this rank's sum, then the global sum
    for (int64_t label : labels) {
      weights[0] += options_.class_weights[static_cast<size_t>(label)];
    }
    weights[1] = weights[0];
    SIMDNET_ASSIGN_OR_RETURN(CollectiveId id,
                             options_.comm->StartSum(absl::MakeSpan(weights + 1, 1)));
    SIMDNET_RETURN_IF_ERROR(options_.comm->Wait(id, "the exchange of class-weight sums"));
    share = weights[0];
    total = weights[1];
  }
  if (sync_) sync_->BeginStep(total > 0.0 ? share / total : 0.0);
  if (split) {
    // One replica per thread (no sync_: only in one process). Each slice's loss is a sum over
    // its rows; BatchSplit divides by the batch's divisor (the rows, or their class weights).
    double divisor = static_cast<double>(n);
    if (options_.loss != "svm" && !options_.class_weights.empty()) {
      divisor = 0.0;
      for (int64_t label : labels) {
        if (label >= 0 && label < static_cast<int64_t>(options_.class_weights.size())) {
          divisor += options_.class_weights[static_cast<size_t>(label)];
        }
      }
    }
    SIMDNET_ASSIGN_OR_RETURN(
        loss, split_->ForwardBackward(images, labels, TrainingLoss(LossReduction::kSum), divisor,
                                      &local_correct, DefaultThreadPool(), /*zero_grad=*/true));
  } else if (n > 0 && share > 0.0) {
    const SliceLoss mean_loss = TrainingLoss(LossReduction::kMean);
    SIMDNET_ASSIGN_OR_RETURN(
        loss, model_->ForwardBackward(
                  images, [&](const Tensor& z, Tensor* dz) { return mean_loss(z, labels, dz); },
                  &logits_));
    SIMDNET_ASSIGN_OR_RETURN(local_correct, CountTopKCorrect(logits_, labels, 1));
  } else if (n > 0) {
    // Only zero-weight classes in this rank's share: no loss term (the weighted mean would
    // divide by zero), but the predictions still count for the accuracy.
    SIMDNET_RETURN_IF_ERROR(model_->Forward(images, &logits_));
    SIMDNET_ASSIGN_OR_RETURN(local_correct, CountTopKCorrect(logits_, labels, 1));
  }  // else: a rank's share of a last, small batch may be empty
  *correct = local_correct;
  if (sync_) {
    SIMDNET_RETURN_IF_ERROR(sync_->FinishStep());
    // The global batch's loss and accuracy, and whether any rank was asked to stop.
    const bool stop = options_.stop != nullptr && options_.stop->requested();
    double stats[3] = {static_cast<double>(loss) * share, static_cast<double>(local_correct),
                       stop ? 1.0 : 0.0};
    SIMDNET_ASSIGN_OR_RETURN(CollectiveId id, options_.comm->StartSum(absl::MakeSpan(stats)));
    SIMDNET_RETURN_IF_ERROR(options_.comm->Wait(id, "the exchange of batch statistics"));
    loss = total > 0.0 ? static_cast<float>(stats[0] / total) : 0.0f;
    *correct = static_cast<int64_t>(std::lround(stats[1]));
    stop_agreed_ = stats[2] > 0.0;
  }
  std::vector<NamedParameter> params = model_->Params();
  if (!regularizer_.IsZero()) regularizer_.AddGradients(params);
  SIMDNET_RETURN_IF_ERROR(CheckFinite(loss));
  if (options_.clip_value > 0) {
    SIMDNET_RETURN_IF_ERROR(ClipGradValue(params, options_.clip_value));
  }
  if (options_.clip_norm > 0) {
    SIMDNET_RETURN_IF_ERROR(ClipGradNorm(params, options_.clip_norm).status());
  }
  SIMDNET_RETURN_IF_ERROR(optimizer_->Step(params, lr));
  return loss;
}

absl::Status Trainer::OpenLogs(bool resumed) {
  const std::string& dir = options_.run_dir;
  const CsvLog::Mode mode = resumed ? CsvLog::Mode::kAppend : CsvLog::Mode::kTruncate;
  // On resume, rows logged after the checkpoint (before a crash) are cut: they are redone.
  SIMDNET_ASSIGN_OR_RETURN(
      epoch_log_,
      CsvLog::Open(dir + "/metrics.csv", EpochCsvColumns(), mode,
                   resumed ? static_cast<int64_t>(history_.size()) : CsvLog::kKeepAllRows));
  SIMDNET_ASSIGN_OR_RETURN(
      iteration_log_, CsvLog::Open(dir + "/iterations.csv", IterationCsvColumns(), mode,
                                   resumed ? iteration_ : CsvLog::kKeepAllRows));
  return absl::OkStatus();
}

absl::Status Trainer::Save(const std::string& file) {
  if (!writes_files_) return absl::OkStatus();
  const std::string path = absl::StrCat(options_.run_dir, "/", file);
  SIMDNET_RETURN_IF_ERROR(SaveTo(path));
  if (on_checkpoint) on_checkpoint(path);
  return absl::OkStatus();
}

int64_t Trainer::GlobalBatchSize(int64_t b) const {
  return std::min(options_.batch_size, data_.train->size() - b * options_.batch_size);
}

absl::Status Trainer::SyncModelState() {
  if (!distributed()) return absl::OkStatus();
  SIMDNET_RETURN_IF_ERROR(sync_->AverageBuffers());
  return sync_->CheckInSync();
}

absl::StatusOr<bool> Trainer::TrainEpoch(DataLoader& loader, int64_t stop_at, double* lr) {
  const double epoch_start = MonotonicSeconds();
  loader.StartEpoch(static_cast<uint64_t>(epoch_));
  for (int64_t skip = 0; skip < batch_in_epoch_; ++skip) {
    SIMDNET_ASSIGN_OR_RETURN(auto skipped, loader.Next());
    if (!skipped.has_value()) break;
  }
  const bool terminal = options_.progress && IsTerminal(2);
  ProgressOptions po;
  po.label = absl::StrCat("epoch ", epoch_ + 1, "/", options_.epochs);
  po.total_batches = batches_per_epoch_;
  po.is_terminal = terminal;
  po.line_seconds = options_.progress_line_seconds;
  po.columns = terminal ? TerminalColumns(2) : 100;
  std::unique_ptr<ProgressReporter> progress;
  if (options_.progress) progress = std::make_unique<ProgressReporter>(po, options_.log);
  ProgressStats stats;
  *lr = base_lr_;

  while (batch_in_epoch_ < batches_per_epoch_) {
    // Data-parallel ranks stop on the request they agreed on after the last step, so that all
    // stop after the same batch.
    const bool requested = distributed()
                               ? stop_agreed_
                               : options_.stop != nullptr && options_.stop->requested();
    if (requested || iteration_ == stop_at) {
      epoch_seconds_before_ += MonotonicSeconds() - epoch_start;
      loader.Stop();
      SIMDNET_RETURN_IF_ERROR(SyncModelState());
      SIMDNET_RETURN_IF_ERROR(Save("checkpoint.safetensors"));
      if (progress) *options_.log << "\n";
      *options_.log << "stopped at epoch " << epoch_ + 1 << ", batch " << batch_in_epoch_
                    << "; saved " << options_.run_dir
                    << "/checkpoint.safetensors (resume with --resume)\n";
      return true;
    }
    SIMDNET_ASSIGN_OR_RETURN(std::optional<Batch> batch, loader.Next());
    if (!batch.has_value()) break;
    const std::vector<int64_t> labels = ToInt64(batch->labels);
    *lr = schedule_.LrAt(base_lr_, iteration_, batches_per_epoch_);
    int64_t correct = 0;
    const int64_t n = distributed() ? GlobalBatchSize(batch->batch_index)
                                    : static_cast<int64_t>(labels.size());
    // Dropout masks are keyed by (epoch, sample id): the same whatever the batch a sample lands
    // in, the number of ranks, or where a resumed run starts.
    for (Dropout* dropout : dropouts_) dropout->SetSampleKeys(batch->epoch, batch->indices);
    if (split_ != nullptr) split_->SetSampleKeys(batch->epoch, batch->indices);
    const double t0 = MonotonicSeconds();
    SIMDNET_ASSIGN_OR_RETURN(float loss, TrainStep(batch->images, labels, n, *lr, &correct));
    const double dt = MonotonicSeconds() - t0;
    step_seconds_ += dt;
    epoch_loss_sum_ += static_cast<double>(loss) * static_cast<double>(n);
    epoch_samples_ += n;
    epoch_correct_ += correct;
    ++iteration_;
    ++batch_in_epoch_;
    stats.batches_done = batch_in_epoch_;
    stats.images_done = epoch_samples_;
    stats.loss = epoch_loss_sum_ / static_cast<double>(epoch_samples_);
    stats.accuracy = static_cast<double>(epoch_correct_) / static_cast<double>(epoch_samples_);
    if (progress) progress->Update(stats);
    if (on_iteration) on_iteration(iteration_, loss);
    loader.Recycle(std::move(*batch));  // its storage holds a later batch
    if (iteration_ % options_.log_every == 0 || batch_in_epoch_ == batches_per_epoch_) {
      IterationRecord ir;
      ir.step = iteration_;
      ir.epoch = epoch_ + 1;
      ir.batch = batch_in_epoch_;
      ir.loss = loss;
      ir.accuracy = static_cast<double>(correct) / static_cast<double>(n);
      ir.learning_rate = *lr;
      ir.images_per_second = dt > 0 ? static_cast<double>(n) / dt : 0.0;
      ir.elapsed_seconds = MonotonicSeconds() - run_start_;
      if (iteration_log_) SIMDNET_RETURN_IF_ERROR(iteration_log_->Append(IterationCsvRow(ir)));
    }
  }
  loader.Stop();
  if (progress) progress->Finish(stats);
  epoch_seconds_before_ += MonotonicSeconds() - epoch_start;
  return false;
}

absl::StatusOr<EpochRecord> Trainer::EvaluateEpoch(double lr, bool* improved) {
  EpochRecord rec;
  rec.epoch = epoch_ + 1;
  const double samples = static_cast<double>(epoch_samples_);
  rec.train_loss = epoch_samples_ > 0 ? epoch_loss_sum_ / samples : NAN;
  rec.train_accuracy = epoch_samples_ > 0 ? static_cast<double>(epoch_correct_) / samples : NAN;
  rec.learning_rate = lr;
  rec.epoch_seconds = epoch_seconds_before_;
  rec.images_per_second = epoch_seconds_before_ > 0 ? samples / epoch_seconds_before_ : 0.0;
  rec.test_loss = NAN;
  rec.test_accuracy = NAN;
  *improved = true;  // without an eval set the latest model is the best we know
  if (data_.eval != nullptr) {
    EvalOptions eo;
    eo.max_misclassified = 0;
    SIMDNET_ASSIGN_OR_RETURN(EvalResult ev,
                             Evaluate(*model_, *data_.eval, data_.normalization, eo));
    rec.test_loss = ev.loss;
    rec.test_accuracy = ev.accuracy;
    *improved = ev.accuracy > best_accuracy_;
  }
  return rec;
}

void Trainer::ReportEpoch(const EpochRecord& rec) {
  if (options_.progress) {
    *options_.log << absl::StrFormat(
        "epoch %d/%d: train loss %.4f acc %.2f%% | %s loss %.4f acc %.2f%% | lr %.3g | %.1fs "
        "(%.0f img/s)\n",
        rec.epoch, options_.epochs, rec.train_loss, 100 * rec.train_accuracy, data_.eval_name,
        rec.test_loss, 100 * rec.test_accuracy, rec.learning_rate, rec.epoch_seconds,
        rec.images_per_second);
  }
  if (on_epoch) on_epoch(rec);
}

absl::StatusOr<bool> Trainer::FinishEpoch(const EpochRecord& rec, bool improved, double lr) {
  // Advance the position before saving, so the checkpoint resumes at the next epoch.
  ++epoch_;
  batch_in_epoch_ = 0;
  epoch_loss_sum_ = 0.0;
  epoch_samples_ = 0;
  epoch_correct_ = 0;
  epoch_seconds_before_ = 0.0;
  if (improved) {
    best_accuracy_ = data_.eval != nullptr ? rec.test_accuracy : best_accuracy_;
    best_epoch_ = rec.epoch;
    epochs_without_improvement_ = 0;
  } else {
    ++epochs_without_improvement_;
  }
  bool snapshot = false;
  if (options_.snapshots) {
    if (options_.snapshot_every > 0) {
      snapshot = epoch_ % options_.snapshot_every == 0;
    } else {
      // A cycle ends where the schedule's learning rate jumps back up (SGDR restarts).
      const double next = schedule_.LrAt(base_lr_, iteration_, batches_per_epoch_);
      snapshot = next > lr * 1.5 || epoch_ == options_.epochs;
    }
  }
  if (snapshot) {
    ++snapshots_saved_;
    SIMDNET_RETURN_IF_ERROR(Save(absl::StrCat("snapshot_", snapshots_saved_, ".safetensors")));
  }
  // best.safetensors is committed BEFORE checkpoint.safetensors: the checkpoint names the
  // best epoch, so a kill between the two renames must never leave a checkpoint naming a best
  // file that is not there. (Killed in between, best may be one epoch ahead of the
  // checkpoint; resuming redoes that epoch bit-identically and rewrites the same file.)
  if (improved) SIMDNET_RETURN_IF_ERROR(Save("best.safetensors"));
  SIMDNET_RETURN_IF_ERROR(Save("checkpoint.safetensors"));
  if (options_.early_stopping_patience > 0 &&
      epochs_without_improvement_ >= options_.early_stopping_patience) {
    if (options_.progress) {
      *options_.log << "early stopping: no improvement for " << epochs_without_improvement_
                    << " epochs (best epoch " << best_epoch_ << ")\n";
    }
    return true;
  }
  return false;
}

absl::StatusOr<TrainResult> Trainer::Run() {
  TrainResult result;
  run_start_ = MonotonicSeconds();
  const double wait_at_start = distributed() ? sync_->wait_seconds() : 0.0;
  // Fills in the position and history at the moment Run returns.
  auto finish = [&]() {
    result.epochs_completed = epoch_;
    result.iterations = iteration_;
    result.history = history_;
    result.best_eval_accuracy = best_accuracy_;
    result.best_epoch = best_epoch_;
    result.wall_seconds = MonotonicSeconds() - run_start_;
    result.step_seconds = step_seconds_;
    if (distributed()) {
      result.ranks = options_.comm->size();
      result.allreduce_wait_seconds = sync_->wait_seconds() - wait_at_start;
    }
    return result;
  };
  step_seconds_ = 0.0;
  stop_agreed_ = false;
  dropouts_.clear();
  model_->ForEachLayer([&](const std::string&, Layer& layer, int) {
    if (auto* dropout = dynamic_cast<Dropout*>(&layer)) dropouts_.push_back(dropout);
  });
  split_.reset();
  const size_t threads = DefaultThreadPool().NumThreads();
  if (!distributed() && threads > 1 && options_.batch_split != "off") {
    const std::string unsupported = BatchSplit::Unsupported(*model_);
    if (options_.batch_split == "on" && !unsupported.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("TrainerOptions.batch_split=on: ", unsupported));
    }
    if (options_.batch_split == "on" ? unsupported.empty()
                                     : BatchSplit::AutoSplits(*model_, threads)) {
      absl::StatusOr<std::unique_ptr<BatchSplit>> split = BatchSplit::Create(model_, threads);
      if (split.ok()) {
        split_ = std::move(*split);
      } else if (options_.batch_split == "on") {
        return absl::FailedPreconditionError(
            absl::StrCat("TrainerOptions.batch_split=on: ", split.status().message()));
      }
    }
  }
  if (writes_files_) {
    SIMDNET_RETURN_IF_ERROR(OpenLogs(/*resumed=*/epoch_ > 0 || batch_in_epoch_ > 0));
  }
  if (distributed()) {
    // Every rank starts from rank 0's weights and statistics (a resumed run's too).
    SIMDNET_RETURN_IF_ERROR(sync_->BroadcastModel());
  }

  DataLoaderOptions lo;
  lo.batch_size = options_.batch_size;
  lo.shuffle = true;
  lo.drop_last = false;
  lo.seed = options_.seed;
  lo.prefetch = options_.prefetch;
  lo.num_threads = 1;
  if (distributed()) {
    lo.shard_index = options_.comm->rank();
    lo.shard_count = options_.comm->size();
  }
  SIMDNET_ASSIGN_OR_RETURN(
      auto loader, DataLoader::Create(data_.train, augmenter_.empty() ? nullptr : &augmenter_,
                                      &data_.normalization, lo));
  batches_per_epoch_ = loader->num_batches();
  if (options_.max_batches_per_epoch > 0) {
    batches_per_epoch_ = std::min(batches_per_epoch_, options_.max_batches_per_epoch);
  }
  base_lr_ = optimizer_->base_lr();
  const int64_t stop_at = options_.stop_after > 0 ? iteration_ + options_.stop_after : -1;
  model_->SetMode(Mode::kTrain);

  while (epoch_ < options_.epochs) {
    double lr = base_lr_;
    SIMDNET_ASSIGN_OR_RETURN(const bool stopped, TrainEpoch(*loader, stop_at, &lr));
    if (stopped) {
      result.interrupted = true;
      return finish();
    }
    bool improved = false;
    SIMDNET_RETURN_IF_ERROR(SyncModelState());
    SIMDNET_ASSIGN_OR_RETURN(EpochRecord rec, EvaluateEpoch(lr, &improved));
    history_.push_back(rec);
    if (epoch_log_) SIMDNET_RETURN_IF_ERROR(epoch_log_->Append(EpochCsvRow(rec)));
    ReportEpoch(rec);
    SIMDNET_ASSIGN_OR_RETURN(result.early_stopped, FinishEpoch(rec, improved, lr));
    if (result.early_stopped) break;
  }
  return finish();
}

absl::StatusOr<EvalResult> Evaluate(Model& model, const SampleSource& data,
                                    const Normalization& norm, const EvalOptions& options) {
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError("evaluate: batch size must be >= 1");
  }
  if (data.sample_shape() != model.InputShape()) {
    return absl::InvalidArgumentError(
        absl::StrCat("evaluate: samples have shape ", data.sample_shape().ToString(),
                     " but the model expects ", model.InputShape().ToString()));
  }
  SIMDNET_RETURN_IF_ERROR(CheckNormalizationShape(norm, data.sample_shape()));
  const Mode saved_mode = model.mode();
  model.SetMode(Mode::kEval);
  const int64_t k = model.num_classes();
  int64_t n = data.size();
  if (options.max_samples > 0) n = std::min(n, options.max_samples);
  EvalResult r;
  SIMDNET_ASSIGN_OR_RETURN(ConfusionMatrix cm, ConfusionMatrix::Create(k));
  if (options.keep_probabilities) r.probabilities = Tensor(Shape({n, k}));
  double loss_sum = 0.0;
  int64_t correct = 0, correct5 = 0;
  Tensor logits;
  Batch batch;
  absl::Status status;
  for (int64_t begin = 0; begin < n && status.ok(); begin += options.batch_size) {
    const int64_t end = std::min(n, begin + options.batch_size);
    std::vector<int64_t> indices;
    for (int64_t i = begin; i < end; ++i) indices.push_back(i);
    status = AssembleBatch(data, indices, nullptr, &norm, 0, 0, &DefaultThreadPool(), &batch);
    if (!status.ok()) break;
    status = options.inference_only ? model.Predict(batch.images, &logits)
                                    : model.Forward(batch.images, &logits);
    if (!status.ok()) break;
    const std::vector<int64_t> labels = ToInt64(batch.labels);
    auto loss = SoftmaxCrossEntropy(logits, labels, nullptr);
    if (!loss.ok()) {
      status = loss.status();
      break;
    }
    loss_sum += static_cast<double>(*loss) * static_cast<double>(labels.size());
    auto c1 = CountTopKCorrect(logits, labels, 1);
    auto c5 = CountTopKCorrect(logits, labels, std::min<int64_t>(5, k));
    if (!c1.ok() || !c5.ok()) {
      status = c1.ok() ? c5.status() : c1.status();
      break;
    }
    correct += *c1;
    correct5 += *c5;
    status = cm.AddLogits(logits, labels);
    if (!status.ok()) break;
    auto pred = ArgmaxRows(logits);
    if (!pred.ok()) {
      status = pred.status();
      break;
    }
    for (size_t i = 0; i < labels.size(); ++i) {
      if ((*pred)[i] != labels[i] &&
          static_cast<int64_t>(r.misclassified.size()) < options.max_misclassified) {
        r.misclassified.push_back(indices[i]);
        r.misclassified_predicted.push_back((*pred)[i]);
        std::vector<float> p(static_cast<size_t>(k));
        SoftmaxAxis(logits.data() + static_cast<int64_t>(i) * k, 1, static_cast<size_t>(k), 1,
                    p.data());
        r.misclassified_confidence.push_back(p[static_cast<size_t>((*pred)[i])]);
      }
    }
    if (options.keep_probabilities) {
      SoftmaxAxis(logits.data(), static_cast<size_t>(end - begin), static_cast<size_t>(k), 1,
                  r.probabilities.data() + begin * k);
    }
  }
  model.SetMode(saved_mode);
  SIMDNET_RETURN_IF_ERROR(status);
  r.samples = n;
  r.loss = n > 0 ? loss_sum / static_cast<double>(n) : 0.0;
  r.accuracy = n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
  r.top5_accuracy = n > 0 ? static_cast<double>(correct5) / static_cast<double>(n) : 0.0;
  r.confusion = std::move(cm);
  return r;
}

absl::StatusOr<EvalResult> EnsembleResult(const std::vector<EvalResult>& members,
                                          const SampleSource& data) {
  if (members.empty()) return absl::InvalidArgumentError("ensemble: no members");
  const Shape shape = members[0].probabilities.shape();
  for (size_t m = 0; m < members.size(); ++m) {
    if (members[m].probabilities.rank() != 2 || members[m].probabilities.shape() != shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ensemble: member ", m, " has probabilities of shape ",
          members[m].probabilities.shape().ToString(), ", expected ", shape.ToString()));
    }
  }
  const int64_t n = shape.dim(0), k = shape.dim(1);
  if (n > data.size()) return absl::InvalidArgumentError("ensemble: more rows than samples");
  EvalResult r;
  r.samples = n;
  r.probabilities = Tensor(shape);
  for (const EvalResult& m : members) {
    Axpy(1.0f / static_cast<float>(members.size()), m.probabilities.data(),
         r.probabilities.data(), static_cast<size_t>(n * k));
  }
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = data.label(i);
  double loss_sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float p = r.probabilities[i * k + labels[static_cast<size_t>(i)]];
    loss_sum -= std::log(std::max(p, 1e-12f));
  }
  SIMDNET_ASSIGN_OR_RETURN(int64_t c1, CountTopKCorrect(r.probabilities, labels, 1));
  SIMDNET_ASSIGN_OR_RETURN(int64_t c5,
                           CountTopKCorrect(r.probabilities, labels, std::min<int64_t>(5, k)));
  SIMDNET_ASSIGN_OR_RETURN(ConfusionMatrix cm, ConfusionMatrix::Create(k));
  SIMDNET_RETURN_IF_ERROR(cm.AddLogits(r.probabilities, labels));
  r.loss = n > 0 ? loss_sum / static_cast<double>(n) : 0.0;
  r.accuracy = n > 0 ? static_cast<double>(c1) / static_cast<double>(n) : 0.0;
  r.top5_accuracy = n > 0 ? static_cast<double>(c5) / static_cast<double>(n) : 0.0;
  r.confusion = std::move(cm);
  return r;
}

}  // namespace simdnet
