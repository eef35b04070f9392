// Implementation of the simdnet subcommands on top of the trainer, data and model libraries.
#include "train/commands.h"

// Included first so the target list below matches the kernels compiled into the libraries.
#include "tensor/simd_targets.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "data/imagenet_preprocess.h"
#include "data/cifar.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "layers/conv2d.h"
#include "layers/conv_plan.h"
#include "layers/model_spec.h"
#include "nlohmann/json.hpp"
#include "optim/optimizer.h"
#include "tensor/reduce.h"
#include "tensor/rng.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"
#include "train/checkpoint.h"
#include "train/class_groups.h"
#include "train/memory.h"
#include "train/profile.h"
#include "train/plot.h"
#include "train/progress.h"
#include "train/report.h"

namespace simdnet {
namespace {

namespace fs = std::filesystem;

// The CLI flag of each TrainerOptions field whose name differs from the flag's.
constexpr std::pair<const char*, const char*> kTrainerFieldFlags[] = {
    {"run_dir", "out"},
    {"early_stopping_patience", "early_stopping"},
    {"max_batches_per_epoch", "max_batches"},
};

// Returns `status` with every "TrainerOptions.<field>" (the trainer library's names) replaced
// by the flag that sets it ("--<flag>").
absl::Status TrainerStatusWithFlagNames(const absl::Status& status) {
  if (status.ok()) return status;
  std::string msg(status.message());
  for (const auto& [field, flag] : kTrainerFieldFlags) {
    msg = absl::StrReplaceAll(
        msg, {{absl::StrCat("TrainerOptions.", field), absl::StrCat("--", flag)}});
  }
  msg = absl::StrReplaceAll(msg, {{"TrainerOptions.", "--"}});
  return absl::Status(status.code(), msg);
}

template <typename T>
absl::StatusOr<T> TrainerStatusWithFlagNames(absl::StatusOr<T> v) {
  if (v.ok()) return v;
  return TrainerStatusWithFlagNames(v.status());
}

absl::StatusOr<InMemoryDataset> KeepClasses(const InMemoryDataset& data,
                                            const std::vector<int64_t>& classes) {
  const int64_t k = static_cast<int64_t>(data.classes.size());
  std::vector<int32_t> remap(static_cast<size_t>(k), -1);
  std::vector<std::string> names;
  for (size_t i = 0; i < classes.size(); ++i) {
    const int64_t c = classes[i];
    if (c < 0 || c >= k) {
      return absl::InvalidArgumentError(
          absl::StrCat("--classes: class ", c, " is outside [0, ", k, ")"));
    }
    if (remap[static_cast<size_t>(c)] >= 0) {
      return absl::InvalidArgumentError(absl::StrCat("--classes: class ", c, " is repeated"));
    }
    remap[static_cast<size_t>(c)] = static_cast<int32_t>(i);
    names.push_back(data.classes[static_cast<size_t>(c)]);
  }
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < data.num; ++i) {
    if (remap[static_cast<size_t>(data.labels[static_cast<size_t>(i)])] >= 0) keep.push_back(i);
  }
  SIMDNET_ASSIGN_OR_RETURN(InMemoryDataset out, Subset(data, keep));
  for (int32_t& l : out.labels) l = remap[static_cast<size_t>(l)];
  out.classes = names;
  if (out.num == 0) {
    return absl::InvalidArgumentError("--classes: no samples of the chosen classes");
  }
  return out;
}

absl::StatusOr<InMemoryDataset> FirstN(const InMemoryDataset& data, int64_t n, uint64_t seed,
                                       bool shuffle) {
  if (n <= 0 || n >= data.num) return data;
  std::vector<int64_t> idx(static_cast<size_t>(data.num));
  std::iota(idx.begin(), idx.end(), 0);
  if (shuffle) {
    Rng rng(seed, 0x5eed);
    for (size_t i = idx.size() - 1; i > 0; --i) {
      std::swap(idx[i], idx[rng.UniformInt(i + 1)]);
    }
  }
  idx.resize(static_cast<size_t>(n));
  std::sort(idx.begin(), idx.end());
  return Subset(data, idx);
}

std::string Describe(const InMemoryDataset& d) {
  return absl::StrCat(d.num, " images ", d.channels, "x", d.height, "x", d.width);
}

}  // namespace

namespace {

// Returns whether the checkpoint's model expects torchvision's ImageNet preprocessing (weights
// imported from torchvision, or fine-tuned from them).
bool ImageNetPreprocessed(const CheckpointInfo& info) {
  const auto it = info.extra.find("preprocess");
  return it != info.extra.end() && it->second == "imagenet";
}

}  // namespace

void MatchFolderToCheckpoint(const CheckpointInfo& info, DataOptions* d) {
  if (d->dataset != "folder" || info.input_shape.rank() != 3) return;
  d->channels = static_cast<int>(info.input_shape.dim(0));
  d->image_height = info.input_shape.dim(1);
  d->image_width = info.input_shape.dim(2);
  d->imagenet_preprocess = ImageNetPreprocessed(info);
}

absl::StatusOr<LoadedData> LoadData(const DataOptions& o) {
  LoadedData out;
  std::optional<InMemoryDataset> test;
  const std::string& ds = o.dataset;
  if (ds == "fashion-mnist" || ds == "mnist") {
    if (ds == "mnist" && o.data_dir.empty()) {
      return absl::InvalidArgumentError("--dataset=mnist needs --data_dir (IDX files)");
    }
    const std::vector<std::string> names =
        ds == "mnist" ? MnistClassNames() : FashionMnistClassNames();
    SIMDNET_ASSIGN_OR_RETURN(out.train, LoadMnistStyle(o.data_dir, Split::kTrain, names));
    SIMDNET_ASSIGN_OR_RETURN(test, LoadMnistStyle(o.data_dir, Split::kTest, names));
  } else if (ds == "cifar10" || ds == "cifar100") {
    if (o.data_dir.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--dataset=", ds, " needs --data_dir"));
    }
    const CifarKind kind = ds == "cifar10" ? CifarKind::kCifar10 : CifarKind::kCifar100Fine;
    SIMDNET_ASSIGN_OR_RETURN(out.train, LoadCifar(o.data_dir, kind, Split::kTrain));
    SIMDNET_ASSIGN_OR_RETURN(test, LoadCifar(o.data_dir, kind, Split::kTest));
  } else if (ds == "folder") {
    if (o.data_dir.empty()) {
      return absl::InvalidArgumentError("--dataset=folder needs --data_dir");
    }
    ImageFolderOptions fo;
    fo.channels = o.channels;
    fo.height = o.image_height;
    fo.width = o.image_width;
    fo.skip_bad_files = o.skip_bad_files;
    SIMDNET_RETURN_IF_ERROR(ValidateImageFolderOptions(fo));
    if (o.imagenet_preprocess) {
      if (o.channels != 3 || o.image_height != o.image_width) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ImageNet preprocessing (resize + centre crop) needs 3 channels and a square size, "
            "not ", o.channels, " x ", o.image_height, " x ", o.image_width));
      }
      fo.preprocess = ImageNetFolderPreprocess(o.image_height);
    }
    std::error_code ec;
    const bool split_dirs = fs::is_directory(fs::path(o.data_dir) / "train", ec) &&
                            fs::is_directory(fs::path(o.data_dir) / "test", ec);
    if (split_dirs) {
      SIMDNET_ASSIGN_OR_RETURN(out.train, LoadImageFolder(o.data_dir + "/train", fo,
                                                          &DefaultThreadPool()));
      SIMDNET_ASSIGN_OR_RETURN(test, LoadImageFolder(o.data_dir + "/test", fo,
                                                     &DefaultThreadPool()));
      if (test->classes != out.train.classes) {
        return absl::InvalidArgumentError(
            absl::StrCat(o.data_dir, ": train/ and test/ have different class folders"));
      }
    } else {
      SIMDNET_ASSIGN_OR_RETURN(out.train,
                               LoadImageFolder(o.data_dir, fo, &DefaultThreadPool()));
    }
    for (const std::string& s : out.train.skipped) std::cerr << "warning: skipped " << s << "\n";
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--dataset=", ds, ": unknown (expected fashion-mnist, mnist, cifar10, cifar100, folder)"));
  }
  if (!o.classes.empty()) {
    SIMDNET_ASSIGN_OR_RETURN(out.train, KeepClasses(out.train, o.classes));
    if (test.has_value()) {
      SIMDNET_ASSIGN_OR_RETURN(test, KeepClasses(*test, o.classes));
    }
  }
  if (!(o.validation_fraction >= 0.0 && o.validation_fraction < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--validation_fraction=", o.validation_fraction, ": must be in [0, 1)"));
  }
  if (o.train_samples < 0 || o.test_samples < 0) {
    return absl::InvalidArgumentError("--train_samples / --test_samples must be >= 0");
  }
  SIMDNET_ASSIGN_OR_RETURN(out.train, FirstN(out.train, o.train_samples, o.seed, true));
  if (test.has_value()) {
    SIMDNET_ASSIGN_OR_RETURN(test, FirstN(*test, o.test_samples, o.seed, false));
  }
  if (o.validation_fraction > 0.0) {
    SIMDNET_ASSIGN_OR_RETURN(SplitIndices split,
                             TrainValidationSplit(out.train.num, o.validation_fraction, o.seed));
    if (split.train.empty() || split.validation.empty()) {
      return absl::InvalidArgumentError(
          "--validation_fraction leaves an empty training or validation split");
    }
    SIMDNET_ASSIGN_OR_RETURN(InMemoryDataset val, Subset(out.train, split.validation));
    SIMDNET_ASSIGN_OR_RETURN(out.train, Subset(out.train, split.train));
    out.validation = std::move(val);
  }
  out.test = std::move(test);
  if (o.normalize == "per_channel") {
    SIMDNET_ASSIGN_OR_RETURN(out.normalization, ComputePerChannelStats(out.train));
  } else if (o.normalize == "mean_image") {
    SIMDNET_ASSIGN_OR_RETURN(out.normalization, ComputeMeanImage(out.train));
  } else if (o.normalize != "none") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--normalize=", o.normalize, ": expected per_channel, mean_image or none"));
  }
  out.description = absl::StrCat(ds, ": train ", Describe(out.train));
  if (out.validation) absl::StrAppend(&out.description, ", validation ", out.validation->num);
  if (out.test) absl::StrAppend(&out.description, ", test ", out.test->num);
  absl::StrAppend(&out.description, ", ", out.train.classes.size(), " classes");
  return out;
}

absl::Status WriteRunReport(const std::string& run_dir, Model& model,
                            const std::vector<std::string>& class_names,
                            const SampleSource* test, const EvalResult* test_result,
                            const std::vector<EpochRecord>& history,
                            const std::vector<std::pair<std::string, std::string>>& hyper,
                            const std::vector<std::pair<std::string, std::string>>& run_info,
                            double wall_seconds) {
  ReportData rd;
  rd.model_summary = model.Summary();
  rd.hyperparameters = hyper;
  rd.run_info = run_info;
  rd.class_names = class_names;
  rd.epochs = history;
  {
    const std::time_t now = std::time(nullptr);
    char buf[64];
    std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
    rd.generated_at = buf;
  }
  rd.wall_time_seconds = wall_seconds;
  if (test_result != nullptr) {
    rd.confusion = test_result->confusion;
    rd.final_test_accuracy = test_result->accuracy;
    rd.final_test_loss = test_result->loss;
    if (test != nullptr) {
      for (size_t j = 0; j < test_result->misclassified.size(); ++j) {
        const int64_t idx = test_result->misclassified[j];
        ReportExample ex;
        ex.image = Tensor(test->sample_shape());
        SIMDNET_RETURN_IF_ERROR(test->ReadSample(idx, ex.image.data()));
        ex.true_label = test->label(idx);
        ex.predicted_label = test_result->misclassified_predicted[j];
        ex.confidence = test_result->misclassified_confidence[j];
        rd.misclassified.push_back(std::move(ex));
      }
    }
  }
  for (const NamedParameter& p : model.Params()) {
    if (p.param->value.rank() == 4) {
      rd.first_layer_filters = p.param->value;
      break;
    }
  }
  std::vector<PlotSeries> loss(2), acc(2), lr(1);
  loss[0].name = "train loss";
  loss[1].name = "test loss";
  acc[0].name = "train accuracy";
  acc[1].name = "test accuracy";
  lr[0].name = "learning rate";
  for (const EpochRecord& r : history) {
    const double e = static_cast<double>(r.epoch);
    loss[0].x.push_back(e);
    loss[0].y.push_back(r.train_loss);
    loss[1].x.push_back(e);
    loss[1].y.push_back(r.test_loss);
    acc[0].x.push_back(e);
    acc[0].y.push_back(r.train_accuracy);
    acc[1].x.push_back(e);
    acc[1].y.push_back(r.test_accuracy);
    lr[0].x.push_back(e);
    lr[0].y.push_back(r.learning_rate);
  }
  PlotOptions po;
  po.x_label = "epoch";
  po.title = "loss";
  SIMDNET_RETURN_IF_ERROR(WriteLinePlotSvg(run_dir + "/loss.svg", loss, po));
  po.title = "accuracy";
  SIMDNET_RETURN_IF_ERROR(WriteLinePlotSvg(run_dir + "/accuracy.svg", acc, po));
  po.title = "learning rate (end of epoch)";
  po.log_y = true;
  SIMDNET_RETURN_IF_ERROR(WriteLinePlotSvg(run_dir + "/lr.svg", lr, po));
  return WriteHtmlReport(run_dir + "/report.html", rd);
}

namespace {

std::vector<std::pair<std::string, std::string>> Hyper(const TrainCommandOptions& o,
                                                       const Trainer& t) {
  const TrainerOptions& to = o.trainer;
  return {{"model", o.model},
          {"epochs", absl::StrCat(to.epochs)},
          {"batch size", absl::StrCat(to.batch_size)},
          {"optimizer", to.optimizer},
          {"schedule", to.schedule},
          {"regularizer", to.regularizer},
          {"loss", to.loss},
          {"label smoothing", absl::StrCat(to.label_smoothing)},
          {"augmentation", to.augment.empty() ? "none" : to.augment},
          {"normalization", o.data.normalize},
          {"seed", absl::StrCat(to.seed, " (weights ", o.model_seed, ")")}};
}

std::vector<std::pair<std::string, std::string>> RunInfo(const LoadedData& data) {
  return {{"data", data.description},
          {"SIMD target", BestTargetName()},
          {"threads", absl::StrCat(DefaultThreadPool().NumThreads())}};
}

struct MemberRun {
  TrainResult result;
  EvalResult test;
  std::unique_ptr<Model> model;
};

absl::StatusOr<MemberRun> TrainOne(const TrainCommandOptions& o, const LoadedData& data,
                                   const std::string& run_dir, uint64_t seed_offset) {
  MemberRun run;
  SIMDNET_ASSIGN_OR_RETURN(std::string spec, LoadModelSpecText(o.model));
  const Shape input = data.train.sample_shape();
  const int64_t classes = static_cast<int64_t>(data.class_names().size());
  SIMDNET_ASSIGN_OR_RETURN(run.model,
                           ModelFromSpec(spec, input, classes, o.model_seed + seed_offset, o.model));
  SIMDNET_RETURN_IF_ERROR(CheckMemoryFits(*run.model, o.trainer.batch_size, /*training=*/true,
                                          AvailableMemory(),
                                          absl::StrCat("training --model=", o.model)));
  TrainerOptions to = o.trainer;
  to.run_dir = run_dir;
  to.seed = o.trainer.seed + seed_offset;
  TrainingData td;
  td.train = &data.train;
  if (data.validation) {
    td.eval = &*data.validation;
    td.eval_name = "validation";
  } else if (data.test) {
    td.eval = &*data.test;
    td.eval_name = "test";
  }
  td.normalization = data.normalization;
  CheckpointInfo info;
  info.model_spec = spec;
  info.input_shape = input;
  info.num_classes = classes;
  info.class_names = data.class_names();
  for (const auto& [name, value] : o.run_flags) info.extra["flag." + name] = value;
  SIMDNET_ASSIGN_OR_RETURN(auto trainer, TrainerStatusWithFlagNames(
                                             Trainer::Create(to, td, run.model.get(), info)));
  const std::string ckpt_path = run_dir + "/checkpoint.safetensors";
  // In a data-parallel run (to.comm) only rank 0 prints and writes the report.
  const bool main_rank = to.comm == nullptr || to.comm->rank() == 0;
  if (o.resume) {
    SIMDNET_ASSIGN_OR_RETURN(Checkpoint ck, ReadCheckpoint(ckpt_path));
    if (ck.info.model_spec != spec) {
      return absl::InvalidArgumentError(absl::StrCat(
          ckpt_path, ": the checkpoint was trained with a different model spec than --model=",
          o.model));
    }
    SIMDNET_RETURN_IF_ERROR(LoadModelState(ck, *run.model));
    SIMDNET_RETURN_IF_ERROR(TrainerStatusWithFlagNames(trainer->Resume(ck)));
    if (main_rank) {
      std::cerr << "resuming " << run_dir << " at epoch " << trainer->history().size() + 1
                << "\n";
    }
  }
  if (main_rank) std::cerr << run.model->Summary() << "\n" << data.description << "\n";
  std::unique_ptr<ModelProfiler> profiler;
  if (o.profile) profiler = std::make_unique<ModelProfiler>(*run.model);
  SIMDNET_ASSIGN_OR_RETURN(run.result, TrainerStatusWithFlagNames(trainer->Run()));
  if (profiler != nullptr) {
    std::cout << "per-layer profile of the run (training steps and evaluation passes):\n"
              << profiler->Format();
    profiler.reset();
  }
  if (run.result.interrupted) return run;
  const SampleSource* test = data.held_out();
  if (test != nullptr) {
    EvalOptions eo;
    eo.keep_probabilities = true;
    SIMDNET_ASSIGN_OR_RETURN(run.test, Evaluate(*run.model, *test, data.normalization, eo));
  }
  if (o.write_report && main_rank) {
    SIMDNET_RETURN_IF_ERROR(WriteRunReport(run_dir, *run.model, data.class_names(), test,
                                           test != nullptr ? &run.test : nullptr,
                                           run.result.history, Hyper(o, *trainer), RunInfo(data),
                                           run.result.wall_seconds));
  }
  return run;
}

}  // namespace

absl::StatusOr<StoredRun> ReadStoredRun(const std::string& path) {
  SIMDNET_ASSIGN_OR_RETURN(Checkpoint ck, ReadCheckpoint(path));
  StoredRun run;
  for (const auto& [key, value] : ck.info.extra) {
    if (absl::StartsWith(key, "flag.")) run.flags[key.substr(5)] = value;
  }
  const nlohmann::json j = nlohmann::json::parse(ck.info.trainer_json, nullptr, false);
  if (j.is_object()) {
    run.epochs_done = j.value("epoch", int64_t{0});
    run.batch_in_epoch = j.value("batch_in_epoch", int64_t{0});
  }
  return run;
}

absl::StatusOr<TrainCommandResult> RunTrain(const TrainCommandOptions& o) {
  if (o.ensemble < 1 || o.ensemble > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("--ensemble=", o.ensemble, ": must be in [1, 64]"));
  }
  SIMDNET_RETURN_IF_ERROR(TrainerStatusWithFlagNames(ValidateTrainerOptions(o.trainer)));
  SIMDNET_ASSIGN_OR_RETURN(LoadedData data, LoadData(o.data));
  TrainCommandResult out;
  const std::string& dir = o.trainer.run_dir;
  if (o.ensemble == 1) {
    SIMDNET_ASSIGN_OR_RETURN(MemberRun run, TrainOne(o, data, dir, 0));
    out.interrupted = run.result.interrupted;
    out.members.push_back(run.result);
    out.test = std::move(run.test);
    out.member_test_accuracy.push_back(out.test.accuracy);
    out.report_path = dir + "/report.html";
    return out;
  }
  std::vector<EvalResult> tests;
  for (int64_t m = 0; m < o.ensemble; ++m) {
    std::cerr << "ensemble member " << m + 1 << "/" << o.ensemble << "\n";
    SIMDNET_ASSIGN_OR_RETURN(
        MemberRun run, TrainOne(o, data, absl::StrCat(dir, "/member_", m),
                                static_cast<uint64_t>(m)));
    out.members.push_back(run.result);
    if (run.result.interrupted) {
      out.interrupted = true;
      return out;
    }
    out.member_test_accuracy.push_back(run.test.accuracy);
    tests.push_back(std::move(run.test));
  }
  const SampleSource* test = data.held_out();
  if (test == nullptr) {
    return absl::InvalidArgumentError(
        "--ensemble: no test or validation split to ensemble on (set --validation_fraction)");
  }
  SIMDNET_ASSIGN_OR_RETURN(out.test, EnsembleResult(tests, *test));
  return out;
}

absl::StatusOr<EvalResult> RunEval(const std::vector<std::string>& checkpoints,
                                   const DataOptions& data_options, int64_t batch_size,
                                   const std::string& class_groups) {
  if (checkpoints.empty()) return absl::InvalidArgumentError("--checkpoint: none given");
  DataOptions d = data_options;
  d.normalize = "none";  // each checkpoint's own statistics are applied instead
  // A folder is read as the first checkpoint's model expects (the others must agree); that
  // checkpoint is read once, here, and evaluated first below.
  SIMDNET_ASSIGN_OR_RETURN(Checkpoint first, ReadCheckpoint(checkpoints[0]));
  MatchFolderToCheckpoint(first.info, &d);
  SIMDNET_ASSIGN_OR_RETURN(LoadedData data, LoadData(d));
  // Without a test split (e.g. a folder with no test/), the whole data set is evaluated.
  const SampleSource* eval = data.test ? static_cast<const SampleSource*>(&*data.test)
                                       : static_cast<const SampleSource*>(&data.train);
  std::vector<EvalResult> results;
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    const std::string& path = checkpoints[i];
    Checkpoint ck;
    if (i == 0) {
      ck = std::move(first);
    } else {
      SIMDNET_ASSIGN_OR_RETURN(ck, ReadCheckpoint(path));
    }
    SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, ModelFromCheckpoint(ck));
    SIMDNET_RETURN_IF_ERROR(CheckMemoryFits(*model, batch_size, /*training=*/false,
                                            AvailableMemory(), absl::StrCat("evaluating ", path)));
    if (eval->sample_shape() != model->InputShape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": the model expects ", model->InputShape().ToString(),
          " but the data has samples of shape ", eval->sample_shape().ToString()));
    }
    EvalOptions eo;
    eo.batch_size = batch_size;
    eo.keep_probabilities = true;
    eo.inference_only = true;
    SIMDNET_ASSIGN_OR_RETURN(EvalResult r,
                             Evaluate(*model, *eval, ck.info.normalization, eo));
    std::cout << absl::StrFormat("%-50s top-1 %6.2f%%  top-5 %6.2f%%  loss %.4f  (%d images)\n",
                                 path, 100 * r.accuracy, 100 * r.top5_accuracy, r.loss,
                                 r.samples);
    if (!class_groups.empty()) {
      SIMDNET_ASSIGN_OR_RETURN(std::vector<ClassGroup> groups,
                               ParseClassGroups(class_groups, model->num_classes()));
      std::vector<int32_t> labels(static_cast<size_t>(r.samples));
      for (int64_t i = 0; i < r.samples; ++i) labels[static_cast<size_t>(i)] = eval->label(i);
      SIMDNET_ASSIGN_OR_RETURN(
          GroupedAccuracy g, ScoreClassGroups(r.probabilities.span(), model->num_classes(),
                                              labels, eval->class_names(), groups));
      std::vector<std::string> names;
      for (const ClassGroup& group : groups) names.push_back(group.name);
      std::cout << absl::StrFormat("%-50s grouped (%s): accuracy %6.2f%%  (%d of %d images)\n",
                                   path, absl::StrJoin(names, " / "), 100 * g.accuracy,
                                   g.correct, g.samples);
      for (size_t t = 0; t < groups.size(); ++t) {
        std::cout << absl::StrFormat("  true %-12s predicted:", groups[t].name);
        for (size_t p = 0; p < groups.size(); ++p) {
          std::cout << absl::StrFormat(" %s %d", groups[p].name, g.confusion[t][p]);
        }
        std::cout << "\n";
      }
    }
    results.push_back(std::move(r));
  }
  if (results.size() == 1) return std::move(results[0]);
  SIMDNET_ASSIGN_OR_RETURN(EvalResult ens, EnsembleResult(results, *eval));
  std::cout << absl::StrFormat("%-50s top-1 %6.2f%%  top-5 %6.2f%%  loss %.4f\n",
                               absl::StrCat("ensemble of ", results.size()), 100 * ens.accuracy,
                               100 * ens.top5_accuracy, ens.loss);
  return ens;
}

absl::StatusOr<std::vector<Prediction>> RunPredict(const std::string& checkpoint,
                                                   const std::vector<std::string>& files,
                                                   int64_t top_k,
                                                   const std::string& class_groups) {
  if (files.empty()) return absl::InvalidArgumentError("predict: no image files given");
  SIMDNET_ASSIGN_OR_RETURN(Checkpoint ck, ReadCheckpoint(checkpoint));
  SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, ModelFromCheckpoint(ck));
  model->SetMode(Mode::kEval);
  const Shape in = model->InputShape();
  if (in.rank() != 3 || (in.dim(0) != 1 && in.dim(0) != 3)) {
    return absl::InvalidArgumentError(absl::StrCat(
        checkpoint, ": predict needs an image model (1 or 3 channels), input is ",
        in.ToString()));
  }
  const int64_t k = model->num_classes();
  top_k = std::max<int64_t>(1, std::min(top_k, k));
  std::vector<ClassGroup> groups;
  if (!class_groups.empty()) {
    SIMDNET_ASSIGN_OR_RETURN(groups, ParseClassGroups(class_groups, k));
  }
  ImageFolderOptions fo;
  fo.channels = static_cast<int>(in.dim(0));
  fo.height = in.dim(1);
  fo.width = in.dim(2);
  std::vector<Prediction> out;
  Tensor x(Shape({1, in.dim(0), in.dim(1), in.dim(2)}));
  Tensor logits;
  // torchvision weights (train/torch_checkpoint.h): resize 256, centre crop 224, as torchvision.
  if (ImageNetPreprocessed(ck.info) && in.dim(0) == 3 && in.dim(1) == in.dim(2)) {
    fo.preprocess = ImageNetFolderPreprocess(in.dim(1));
  }
  for (const std::string& f : files) {
    SIMDNET_ASSIGN_OR_RETURN(std::vector<uint8_t> pixels, LoadImageFile(f, fo));
    for (int64_t i = 0; i < x.size(); ++i) {
      x[i] = static_cast<float>(pixels[static_cast<size_t>(i)]) / 255.0f;
    }
    ck.info.normalization.Apply(x.data(), 1);
    SIMDNET_RETURN_IF_ERROR(model->Predict(x, &logits));
    std::vector<float> p(static_cast<size_t>(k));
    SoftmaxAxis(logits.data(), 1, static_cast<size_t>(k), 1, p.data());
    std::vector<int64_t> order(static_cast<size_t>(k));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)];
    });
    Prediction pred;
    pred.file = f;
    for (int64_t j = 0; j < top_k; ++j) {
      const int64_t c = order[static_cast<size_t>(j)];
      const std::string name = static_cast<size_t>(c) < ck.info.class_names.size()
                                   ? ck.info.class_names[static_cast<size_t>(c)]
                                   : absl::StrCat(c);
      pred.top.emplace_back(name, p[static_cast<size_t>(c)]);
    }
    const std::vector<double> grouped = GroupProbabilities(p, groups);
    for (size_t g = 0; g < groups.size(); ++g) pred.groups.emplace_back(groups[g].name, grouped[g]);
    out.push_back(std::move(pred));
  }
  return out;
}

absl::StatusOr<FinetuneResult> RunFinetune(const FinetuneOptions& o) {
  SIMDNET_RETURN_IF_ERROR(TrainerStatusWithFlagNames(ValidateTrainerOptions(o.train.trainer)));
  SIMDNET_ASSIGN_OR_RETURN(Checkpoint ck, ReadCheckpoint(o.checkpoint));
  SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, ModelFromCheckpoint(ck));
  DataOptions dopt = o.train.data;
  MatchFolderToCheckpoint(ck.info, &dopt);
  SIMDNET_ASSIGN_OR_RETURN(LoadedData data, LoadData(dopt));
  if (data.train.sample_shape() != model->InputShape()) {
    return absl::InvalidArgumentError(absl::StrCat(
        o.checkpoint, ": the model expects ", model->InputShape().ToString(),
        " but the data has samples of shape ", data.train.sample_shape().ToString()));
  }
  // Keep the pretrained model's input statistics: the backbone was trained on them.
  if (ck.info.normalization.kind != Normalization::Kind::kNone) {
    data.normalization = ck.info.normalization;
  }
  const int64_t classes = static_cast<int64_t>(data.class_names().size());
  Rng head_rng(o.train.model_seed, 0x4ead);
  SIMDNET_RETURN_IF_ERROR(model->ReplaceHead(classes, head_rng));
  for (const NamedParameter& p : model->Params()) p.param->frozen = false;
  if (!o.freeze.empty()) SIMDNET_RETURN_IF_ERROR(model->FreezeList(o.freeze).status());

  FinetuneResult result;
  const SampleSource* test = data.held_out();
  if (test == nullptr) {
    return absl::InvalidArgumentError(
        "finetune: no test or validation split (set --validation_fraction)");
  }
  SIMDNET_ASSIGN_OR_RETURN(EvalResult before, Evaluate(*model, *test, data.normalization, {}));
  result.before_accuracy = before.accuracy;

  TrainerOptions to = o.train.trainer;
  TrainingData td;
  td.train = &data.train;
  td.eval = data.validation ? &*data.validation : test;
  td.eval_name = data.validation ? "validation" : "test";
  td.normalization = data.normalization;
  CheckpointInfo info;
  info.model_spec = ck.info.model_spec;
  info.input_shape = model->InputShape();
  info.num_classes = classes;
  info.class_names = data.class_names();
  info.extra["finetuned_from"] = o.checkpoint;
  if (auto it = ck.info.extra.find("preprocess"); it != ck.info.extra.end()) {
    info.extra["preprocess"] = it->second;  // eval / predict read images as the backbone saw them
  }
  SIMDNET_ASSIGN_OR_RETURN(
      auto trainer, TrainerStatusWithFlagNames(Trainer::Create(to, td, model.get(), info)));
  if (o.freeze.empty() && o.backbone_lr_scale > 0) {
    // The head is the last parameters' layer: everything else gets the smaller LR.
    const std::string head = model->HeadName();
    for (const NamedParameter& p : model->Params()) {
      if (p.name.rfind(head, 0) == 0) continue;
      ParamGroup g;
      g.prefix = p.name;
      g.lr_scale = o.backbone_lr_scale;
      SIMDNET_RETURN_IF_ERROR(trainer->optimizer().AddGroup(g));
    }
  }
  SIMDNET_ASSIGN_OR_RETURN(TrainResult tr, TrainerStatusWithFlagNames(trainer->Run()));
  SIMDNET_ASSIGN_OR_RETURN(EvalResult after, Evaluate(*model, *test, data.normalization, {}));
  result.after_accuracy = after.accuracy;
  if (o.train.write_report) {
    SIMDNET_RETURN_IF_ERROR(WriteRunReport(
        to.run_dir, *model, data.class_names(), test, &after, tr.history,
        {{"fine-tuned from", o.checkpoint}, {"frozen", o.freeze.empty() ? "none" : o.freeze},
         {"optimizer", to.optimizer}, {"epochs", absl::StrCat(to.epochs)}},
        RunInfo(data), tr.wall_seconds));
  }
  if (o.compare_scratch) {
    TrainCommandOptions scratch = o.train;
    scratch.model = absl::StrCat(to.run_dir, "/scratch_spec.txt");
    // The scratch model uses the same architecture (the checkpoint's spec).
    SIMDNET_RETURN_IF_ERROR(WriteFileAtomically(scratch.model, ck.info.model_spec));
    scratch.trainer.run_dir = to.run_dir + "/scratch";
    scratch.write_report = false;
    SIMDNET_ASSIGN_OR_RETURN(MemberRun run, TrainOne(scratch, data, scratch.trainer.run_dir, 0));
    result.scratch_accuracy = run.test.accuracy;
  }
  return result;
}

namespace {

// The `summary --plan` lines: per Conv2d, the algorithm of each pass at batch size `batch` and
// the plan's reason.
std::string ConvPlanLines(Model& model, int64_t batch) {
  std::string out =
      absl::StrCat("Convolution plan at batch ", batch, " (", CurrentConvTarget().lanes,
                   "-lane vectors; algorithm per pass, and why):\n");
  model.ForEachLayer([&](const std::string& path, Layer& layer, int) {
    const auto* conv = dynamic_cast<const Conv2d*>(&layer);
    if (conv == nullptr) return;
    absl::StrAppend(&out, "  ", path, "  ", conv->Describe(), "\n");
    const ConvPlan plan = conv->PlanFor(batch);
    for (ConvPass pass :
         {ConvPass::kForward, ConvPass::kBackwardData, ConvPass::kBackwardWeights}) {
      absl::StrAppend(&out, absl::StrFormat("    %-17s %-32s %s\n", ConvPassName(pass),
                                            ConvPassPlanString(plan, pass),
                                            plan.Pass(pass).reason));
    }
  });
  return out;
}

// The memory estimate lines of `summary`: training at the default batch and evaluation.
std::string MemoryLines(Model& model) {
  const MemoryEstimate train = EstimateMemory(model, 64, /*training=*/true);
  const MemoryEstimate eval = EstimateMemory(model, 256, /*training=*/false);
  const MemoryLimit limit = AvailableMemory();
  return absl::StrCat("Memory (estimate): training at batch 64 ", FormatBytesShort(train.total),
                      ", evaluation at batch 256 ", FormatBytesShort(eval.total), "; available ",
                      FormatBytesShort(limit.bytes), " (", limit.source, ")\n");
}

}  // namespace

absl::StatusOr<std::string> RunSummary(const std::string& model_or_checkpoint,
                                       const std::optional<Shape>& input_shape,
                                       int64_t num_classes, bool conv_plan,
                                       int64_t plan_batch) {
  std::unique_ptr<Model> model;
  if (absl::EndsWith(model_or_checkpoint, ".safetensors")) {
    SIMDNET_ASSIGN_OR_RETURN(Checkpoint ck, ReadCheckpoint(model_or_checkpoint));
    SIMDNET_ASSIGN_OR_RETURN(model, ModelFromCheckpoint(ck));
  } else {
    SIMDNET_ASSIGN_OR_RETURN(model, LoadModel(model_or_checkpoint, input_shape, num_classes, 1));
  }
  return model->Summary() + MemoryLines(*model) +
         (conv_plan ? ConvPlanLines(*model, plan_batch) : "");
}

}  // namespace simdnet
