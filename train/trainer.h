// Trainer: runs epochs of shuffled mini-batches (forward, loss + regularization, backward,
// clipping, optimizer step), steps the learning-rate schedule, evaluates after every epoch,
// keeps the last and the best checkpoint, logs metrics.csv / iterations.csv, and can stop
// cleanly on request (a StopToken the caller owns) and resume bit-identically.
//
// Library code: errors name TrainerOptions fields ("TrainerOptions.epochs=0: ..."), not flags
// (the CLI maps fields to its flag names); progress and messages go to TrainerOptions::log;
// nothing is process-global. Run is a sequence of named steps: TrainEpoch (batches), then
// EvaluateEpoch, ReportEpoch (log line, on_epoch) and FinishEpoch (checkpoint policy: snapshot,
// best, last; early stopping).
//
// Determinism: with the same options (seed), thread count and data, two runs produce identical
// weights, and a run interrupted and resumed from its checkpoint ends with the same weights as
// one that was never interrupted.
#ifndef SIMDNET_TRAIN_TRAINER_H_
#define SIMDNET_TRAIN_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "dist/communicator.h"
#include "dist/gradient_sync.h"
#include "layers/loss.h"
#include "layers/model.h"
#include "layers/regularizer.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"
#include "train/batch_split.h"
#include "train/checkpoint.h"
#include "train/csv_log.h"
#include "train/metrics.h"

namespace simdnet {

class DataLoader;
class Dropout;
class ThreadPool;

// A stop request the caller owns and may set from anywhere, a signal handler included (a
// lock-free atomic store): Run finishes the current batch, saves, and returns interrupted.
class StopToken {
 public:
  void Request() { requested_.store(true, std::memory_order_relaxed); }
  bool requested() const { return requested_.load(std::memory_order_relaxed); }
  void Clear() { requested_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> requested_{false};
};

struct TrainerOptions {
  int64_t epochs = 10;
  int64_t batch_size = 64;
  std::string optimizer = "sgd:lr=0.05,momentum=0.9,nesterov=1";  // optim/make_optimizer.h
  // optim/lr_schedule.h MakeSchedule spec; "=auto" as a value (e.g. "cosine:t_max=auto") stands
  // for the run's total number of iterations (epochs x batches per epoch).
  std::string schedule = "constant";
  std::string regularizer = "none";    // layers/regularizer.h Regularizer::Parse
  // "xent" (softmax cross-entropy on logits), "svm" (multiclass hinge) or "nll" (negative
  // log-likelihood; the model must end in a log_softmax layer), as layers/loss.h.
  std::string loss = "xent";
  float label_smoothing = 0.0f;        // xent only
  // xent / nll: per-class loss weights (num_classes entries, finite, >= 0; PyTorch's weight=,
  // the mean divides by the sum of the batch's target weights); empty = all 1.
  std::vector<float> class_weights;
  double clip_norm = 0.0;              // > 0: clip the global gradient norm
  double clip_value = 0.0;             // > 0: clamp every gradient element
  std::string augment;                 // data/augment.h ParseAugmentSpec; "" = none
  uint64_t seed = 1;                   // shuffling, augmentation (weights: the model's seed)
  std::string run_dir;                 // where checkpoints, logs and the report go
  int64_t early_stopping_patience = 0; // > 0: stop after that many epochs without improvement
  int64_t max_batches_per_epoch = 0;   // > 0: cap (quick runs and tests)
  int64_t log_every = 10;              // iterations between iterations.csv rows
  bool progress = true;                // progress bar / per-epoch lines on `log`
  // Where progress and messages go (not owned; must outlive Run); null = nowhere. The CLI
  // passes std::cerr.
  std::ostream* log = &std::cerr;
  // Not owned; null = no stop request (Run still honours stop_after). The CLI's SIGINT /
  // SIGTERM handler requests it.
  StopToken* stop = nullptr;
  double progress_line_seconds = 10.0; // plain-line interval when stderr is not a terminal
  int64_t prefetch = 4;                // batches the loader prepares ahead
  // Snapshot ensembles (Huang et al. 2017): save snapshot_<k>.safetensors at the end of every
  // epoch where the SGDR schedule restarts (or every `snapshot_every` epochs if > 0).
  bool snapshots = false;
  int64_t snapshot_every = 0;
  // > 0: behave as if SIGINT arrived after this many iterations of this Run (finish the batch,
  // save, return interrupted) -- a deterministic interruption for testing resume.
  int64_t stop_after = 0;
  // Data-parallel training (docs/dist.md): the job's communicator (not owned; must outlive
  // Run); null or a single rank = one process. Every rank runs the same Run with the same
  // options and data; batch_size is the GLOBAL batch, of which each rank trains on its
  // contiguous share (data/batcher.h ShardOfBatch), so the samples and their order are those
  // of a single-process run. Gradients are summed in buckets of dist_bucket_bytes; rank 0
  // alone writes run_dir and logs; a stop requested on any rank stops every rank after the
  // same batch; a collective that does not complete within the communicator's timeout ends
  // Run with DeadlineExceeded.
  Communicator* comm = nullptr;
  int64_t dist_bucket_bytes = int64_t{1} << 20;
  // Splitting each batch across the threads, one model replica per thread (train/batch_split.h;
  // one process, more than one thread): "auto" splits when BatchSplit::AutoSplits says so (the
  // model allows it, i.e. no layer other than BatchNorm keeps buffers, and has at most
  // kAutoBatchSplitMaxParams parameters);
  // "on" whenever the model allows it (FailedPrecondition from Run otherwise); "off" never.
  // Results depend on it (the gradient sums run in another order), not on which thread runs
  // which slice.
  std::string batch_split = "auto";
};

// Returns OK if the options are usable; InvalidArgument naming the field otherwise
// ("TrainerOptions.batch_size=0: must be in [1, 65536]").
absl::Status ValidateTrainerOptions(const TrainerOptions& options);

// The data a run uses. `train` is required; `eval` is evaluated after every epoch (a
// validation split, or the test set when there is none) and drives best-checkpoint selection and
// early stopping. All must outlive the trainer.
struct TrainingData {
  const SampleSource* train = nullptr;
  const SampleSource* eval = nullptr;
  std::string eval_name = "test";  // "validation" or "test", for logs
  Normalization normalization;     // applied to every sample (computed on train only)
};

// Results of evaluating a model on a data set.
struct EvalResult {
  double loss = 0.0;          // mean softmax cross-entropy
  double accuracy = 0.0;      // top-1, fraction
  double top5_accuracy = 0.0; // top-min(5, K)
  int64_t samples = 0;
  std::optional<ConfusionMatrix> confusion;
  std::vector<int64_t> misclassified;  // sample indices, in order, up to max_misclassified
  std::vector<int64_t> misclassified_predicted;  // the predicted class of each of those
  std::vector<float> misclassified_confidence;   // the softmax probability of that prediction
  Tensor probabilities;                // (N, K) when keep_probabilities
};

struct EvalOptions {
  int64_t batch_size = 256;
  int64_t max_misclassified = 64;
  bool keep_probabilities = false;
  int64_t max_samples = 0;  // > 0: evaluate only the first max_samples
  // Runs Model::Predict (pooled activations, a fraction of the memory) instead of Forward: for
  // processes that evaluate without training afterwards (eval, predict).
  bool inference_only = false;
};

// Evaluates `model` (switched to eval mode, then restored) on `data` with `norm` applied.
absl::StatusOr<EvalResult> Evaluate(Model& model, const SampleSource& data,
                                    const Normalization& norm, const EvalOptions& options);

// Averages the probabilities of several evaluation results (same data, same order) and returns
// the ensemble's accuracy, loss (cross-entropy of the averaged probabilities), top-5 and
// confusion matrix. InvalidArgument if the results do not match in shape or lack probabilities.
absl::StatusOr<EvalResult> EnsembleResult(const std::vector<EvalResult>& members,
                                          const SampleSource& data);

// Summary of a finished (or stopped) run.
struct TrainResult {
  int64_t epochs_completed = 0;
  int64_t iterations = 0;
  bool interrupted = false;        // stopped by options.stop or stop_after (checkpoint saved)
  bool early_stopped = false;
  double best_eval_accuracy = 0.0;
  int64_t best_epoch = 0;
  std::vector<EpochRecord> history;  // all epochs, including those before a resume
  double wall_seconds = 0.0;
  // Time in training steps (forward, backward, gradient exchange, update) in this Run, and of
  // it the time blocked waiting for the gradient allreduce after the backward pass (including
  // waiting for slower ranks; 0 for a single process).
  double step_seconds = 0.0;
  double allreduce_wait_seconds = 0.0;
  int ranks = 1;
};

class Trainer {
 public:
  // Prepares a run over `model` (not owned; must outlive the trainer). `info` describes the
  // model for checkpoints (spec, shape, classes, normalization is taken from data). Creates
  // run_dir if needed. Errors name the option or path.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(const TrainerOptions& options,
                                                         const TrainingData& data, Model* model,
                                                         CheckpointInfo info);
  ~Trainer();

  // Restores the optimizer, trainer position, history and model state from a checkpoint of
  // the same run (the model must already hold its weights: see LoadModelState).
  absl::Status Resume(const Checkpoint& ckpt);

  // Trains until options.epochs are done, early stopping triggers, or options.stop is requested;
  // saves run_dir/checkpoint.safetensors after every epoch (and when stopped mid-epoch),
  // run_dir/best.safetensors on improvement, and appends metrics.csv / iterations.csv.
  // A non-finite loss or gradient stops the run with FailedPrecondition naming the iteration
  // and the first offending parameter; the last good checkpoint stays in place.
  absl::StatusOr<TrainResult> Run();

  // Called after every epoch with its record (for library users; the CLI prints).
  std::function<void(const EpochRecord&)> on_epoch;
  // Called after every training iteration with the global iteration count (1-based) and the
  // batch loss; may request options.stop.
  std::function<void(int64_t iteration, float loss)> on_iteration;
  // Called after every checkpoint file Run commits (checkpoint, best, snapshot), with its path.
  std::function<void(const std::string& path)> on_checkpoint;

  Optimizer& optimizer() { return *optimizer_; }
  const std::vector<EpochRecord>& history() const { return history_; }
  // Returns the trainer's position as JSON (stored in checkpoints).
  std::string PositionJson() const;

 private:
  Trainer() = default;
  // The steps of Run, in order.
  // Opens metrics.csv / iterations.csv (on resume, cut back to the checkpoint's position).
  absl::Status OpenLogs(bool resumed);
  // Trains the remaining batches of epoch_ (from batch_in_epoch_); *lr is the last rate used.
  // Returns true if a stop was requested (options.stop or stop_after): the position is saved
  // to checkpoint.safetensors and the epoch is left unfinished.
  absl::StatusOr<bool> TrainEpoch(DataLoader& loader, int64_t stop_at, double* lr);
  // Returns the epoch's record (training statistics, evaluation on data_.eval) and whether it
  // improves on the best evaluation accuracy so far.
  absl::StatusOr<EpochRecord> EvaluateEpoch(double lr, bool* improved);
  // Writes the epoch line to options.log and calls on_epoch.
  void ReportEpoch(const EpochRecord& rec);
  // Advances to the next epoch and applies the checkpoint policy: snapshot (SGDR cycle end or
  // every snapshot_every), best.safetensors on improvement, then checkpoint.safetensors.
  // Returns true if early stopping ends the run.
  absl::StatusOr<bool> FinishEpoch(const EpochRecord& rec, bool improved, double lr);
  // Saves run_dir/`file` and calls on_checkpoint.
  absl::Status Save(const std::string& file);
  absl::Status SaveTo(const std::string& path);
  // One optimizer step on the local batch; `global_n` is the size of the global batch (the
  // local one for a single process). Returns the mean loss over the global batch and sets
  // *correct to its top-1 count; in a data-parallel run also exchanges the stop request.
  absl::StatusOr<float> TrainStep(const Tensor& images, const std::vector<int64_t>& labels,
                                  int64_t global_n, double lr, int64_t* correct);
  // The training loss options.loss (with its label smoothing and class weights) of logits and
  // labels, reduced as `reduction` says: kMean for a whole batch, kSum for BatchSplit's slices.
  // The SVM loss has only a mean form; its kSum is the mean times the rows.
  SliceLoss TrainingLoss(LossReduction reduction) const;
  // Returns the size of global batch `b` of an epoch.
  int64_t GlobalBatchSize(int64_t b) const;
  // Data-parallel runs: averages BatchNorm statistics over the ranks and checks that the
  // ranks' models agree (before evaluation and every checkpoint). No-op for one process.
  absl::Status SyncModelState();
  bool distributed() const { return sync_ != nullptr; }
  absl::Status CheckFinite(float loss) const;

  TrainerOptions options_;
  TrainingData data_;
  Model* model_ = nullptr;
  CheckpointInfo info_;
  std::unique_ptr<Optimizer> optimizer_;
  LrSchedule schedule_;
  Regularizer regularizer_ = *Regularizer::Parse("none");
  Augmenter augmenter_;

  // Position: the next batch to train is batch_in_epoch_ of epoch_ (0-based).
  int64_t epoch_ = 0;
  int64_t batch_in_epoch_ = 0;
  int64_t iteration_ = 0;
  double epoch_loss_sum_ = 0.0;  // sums over the current epoch so far
  int64_t epoch_samples_ = 0;
  int64_t epoch_correct_ = 0;
  double epoch_seconds_before_ = 0.0;  // time spent in the current epoch before a resume
  double best_accuracy_ = -1.0;
  int64_t best_epoch_ = 0;
  int64_t epochs_without_improvement_ = 0;
  int64_t snapshots_saved_ = 0;
  std::vector<EpochRecord> history_;

  // Set by Run.
  double run_start_ = 0.0;
  double base_lr_ = 0.0;
  int64_t batches_per_epoch_ = 0;
  std::unique_ptr<CsvLog> epoch_log_, iteration_log_;
  // The model's Dropout layers, keyed per sample before every step (see TrainEpoch).
  std::vector<Dropout*> dropouts_;

  // Set by Run when TrainerOptions::batch_split applies; null otherwise.
  std::unique_ptr<BatchSplit> split_;

  // Data-parallel state (null / defaults for one process).
  std::unique_ptr<GradientSync> sync_;
  bool writes_files_ = true;       // rank 0 (or a single process)
  bool stop_agreed_ = false;       // a stop requested on some rank, agreed after the last step
  double step_seconds_ = 0.0;

  Tensor logits_, dlogits_;
};

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_TRAINER_H_
