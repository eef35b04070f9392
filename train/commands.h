// The `simdnet` subcommands as a library: load a data set, train (single models, ensembles,
// snapshot ensembles), evaluate, predict, fine-tune and summarize. The CLI (simdnet_main.cc)
// only turns flags into these option structs; C++ users can call the same functions.
#ifndef SIMDNET_TRAIN_COMMANDS_H_
#define SIMDNET_TRAIN_COMMANDS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "layers/model.h"
#include "train/trainer.h"

namespace simdnet {

// Which data set to use and how to prepare it.
struct DataOptions {
  // "fashion-mnist" (Debian's copy, or data_dir), "mnist" (IDX files in data_dir),
  // "cifar10" / "cifar100" (binary batches in data_dir), "folder" (data_dir/CLASS/*.png|jpg;
  // with data_dir/train and data_dir/test sub-folders when present).
  std::string dataset = "fashion-mnist";
  std::string data_dir;
  int64_t image_height = 32, image_width = 32;  // folder only
  int channels = 3;                             // folder only
  bool skip_bad_files = false;                  // folder only
  // folder only: torchvision's evaluation transform (short side resized to 256/224 of the
  // size, centre crop) instead of resizing whole images; needs a square RGB size.
  bool imagenet_preprocess = false;
  int64_t train_samples = 0;  // > 0: use only the first n training samples (after shuffling)
  int64_t test_samples = 0;   // > 0: use only the first n test samples
  double validation_fraction = 0.0;  // held out of train; evaluated each epoch
  // "per_channel" (mean/std per channel), "mean_image", or "none"; statistics from train only.
  std::string normalize = "per_channel";
  // Non-empty: keep only these class indices, relabelled 0..K-1 in this order.
  std::vector<int64_t> classes;
  uint64_t seed = 1;
};

struct LoadedData {
  InMemoryDataset train;
  std::optional<InMemoryDataset> validation;
  std::optional<InMemoryDataset> test;
  Normalization normalization;
  std::string description;  // e.g. "fashion-mnist: 60000 train, 10000 test, 1x28x28, 10 classes"
  const std::vector<std::string>& class_names() const { return train.classes; }
  // Returns the held-out set final results are reported on: the test split, else the
  // validation split, else null.
  const SampleSource* held_out() const {
    if (test) return &*test;
    if (validation) return &*validation;
    return nullptr;
  }
};

// Makes an image folder load as the checkpoint's model expects it: at its input size and
// channels, with torchvision's resize of the short side + centre crop for weights imported from
// torchvision (extra "preprocess" = "imagenet"). Other data sets are left alone.
void MatchFolderToCheckpoint(const CheckpointInfo& info, DataOptions* d);

// Loads and prepares the data. Errors name the flag or the file.
absl::StatusOr<LoadedData> LoadData(const DataOptions& options);

struct TrainCommandOptions {
  std::string model = "vgg-small";  // preset name or spec file
  uint64_t model_seed = 1;          // weight initialization
  TrainerOptions trainer;           // trainer.run_dir is the output directory
  DataOptions data;
  int64_t ensemble = 1;             // > 1: train this many members (seeds + i) in run_dir/member_i
  bool resume = false;              // continue from run_dir/checkpoint.safetensors
  bool write_report = true;
  // Stored in every checkpoint as metadata "extra.flag.<name>" (the CLI puts the flags that
  // define the run here, so that `train --resume` needs no flags; see ReadRunFlags).
  std::map<std::string, std::string> run_flags;
  // Prints the per-layer profile (train/profile.h) of the whole run (training steps and the
  // evaluation passes) to stdout when training ends.
  bool profile = false;
};

struct TrainCommandResult {
  std::vector<TrainResult> members;
  EvalResult test;                  // final test evaluation (the ensemble's for ensembles)
  std::vector<double> member_test_accuracy;
  bool interrupted = false;
  std::string report_path;
};

// The run-defining flags stored in a checkpoint, and where the run stands.
struct StoredRun {
  std::map<std::string, std::string> flags;  // name -> value, as given when the run started
  int64_t epochs_done = 0;                    // completed epochs
  int64_t batch_in_epoch = 0;                 // > 0: stopped inside an epoch
};
// Reads the run flags and position of checkpoint `path`. Errors name the file.
absl::StatusOr<StoredRun> ReadStoredRun(const std::string& path);

// Trains per the options, writes checkpoints, metrics and the report into run_dir, and returns
// the final test evaluation.
absl::StatusOr<TrainCommandResult> RunTrain(const TrainCommandOptions& options);

// Evaluates one or more checkpoints on the test split of `data` (or the validation split when
// there is no test split); with several, also their ensemble (averaged probabilities).
// Prints a table to stdout. With `class_groups` (train/class_groups.h: "dog:151-268,food:924-969"
// or a file), also the accuracy of each model as a grouped classifier (summed probabilities of
// each group's classes) against the data's classes, which must be named after the groups.
absl::StatusOr<EvalResult> RunEval(const std::vector<std::string>& checkpoints,
                                   const DataOptions& data, int64_t batch_size,
                                   const std::string& class_groups = "");

struct Prediction {
  std::string file;
  std::vector<std::pair<std::string, float>> top;  // class name, probability
  std::vector<std::pair<std::string, double>> groups;  // with class_groups: name, probability
};
// Classifies image files with a checkpoint (resized and converted to its input shape,
// normalized with its statistics). Errors name the file. With `class_groups`, each prediction
// also has the summed probability of every group.
absl::StatusOr<std::vector<Prediction>> RunPredict(const std::string& checkpoint,
                                                   const std::vector<std::string>& files,
                                                   int64_t top_k,
                                                   const std::string& class_groups = "");

struct FinetuneOptions {
  std::string checkpoint;            // pretrained model
  std::string freeze = "features";   // parameter-name prefix to freeze ("" = none)
  double backbone_lr_scale = 0.0;    // > 0 (and freeze empty): LR scale for non-head params
  bool compare_scratch = true;       // also train the same model from scratch, same budget
  TrainCommandOptions train;         // data (e.g. a class subset), trainer options, run_dir
};
struct FinetuneResult {
  double before_accuracy = 0.0;   // new random head, before fine-tuning
  double after_accuracy = 0.0;
  double scratch_accuracy = -1.0; // < 0 if not run
};
// Loads a trained checkpoint, replaces its classifier head for the data's class count, freezes
// the backbone (or gives it a smaller LR), fine-tunes, and compares with training from scratch.
absl::StatusOr<FinetuneResult> RunFinetune(const FinetuneOptions& options);

// Returns the summary table of a preset / spec file / checkpoint; with conv_plan, followed by
// the convolution algorithm each Conv2d runs per pass at batch size plan_batch, and why
// (layers/conv_plan.h; the plan depends on the batch size).
absl::StatusOr<std::string> RunSummary(const std::string& model_or_checkpoint,
                                       const std::optional<Shape>& input_shape,
                                       int64_t num_classes, bool conv_plan = false,
                                       int64_t plan_batch = 64);

// Writes report.html and the curve PNGs (loss.png, accuracy.png, lr.png) into run_dir.
absl::Status WriteRunReport(const std::string& run_dir, Model& model,
                            const std::vector<std::string>& class_names,
                            const SampleSource* test, const EvalResult* test_result,
                            const std::vector<EpochRecord>& history,
                            const std::vector<std::pair<std::string, std::string>>& hyper,
                            const std::vector<std::pair<std::string, std::string>>& run_info,
                            double wall_seconds);

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_COMMANDS_H_
