// The `simdnet` command: train, eval, predict, finetune and summary subcommands over the
// library in train/commands.h, and the interpretation subcommands of interpret/cli.h. Run with `bazel run -c opt //train:simdnet -- <command> ...`.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "dist/mpi_communicator.h"
#include "interpret/cli.h"
#include "layers/torchvision_specs.h"
#include "tensor/simd_targets.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"
#include "train/bench_command.h"
#include "train/checkpoint.h"
#include "train/torch_checkpoint.h"
#include "train/commands.h"
#include "train/flag_lists.h"

// Model and run.
ABSL_FLAG(std::string, model, "vgg-small",
          "Model: a preset (lenet5, vgg-small, resnet-small) or a model spec file");
ABSL_FLAG(std::string, out, "runs/latest",
          "Run directory for checkpoints, logs and the report (interpretation commands: the "
          "folder for their pictures, default <checkpoint's folder>/<command>)");
ABSL_FLAG(bool, resume, false, "train: continue from <out>/checkpoint.safetensors");
ABSL_FLAG(uint64_t, seed, 1, "Seed for weights, shuffling, augmentation and dropout");
ABSL_FLAG(std::string, threads, "",
          "Worker threads (default: $SIMDNET_THREADS or the number of cores)");
// Data.
ABSL_FLAG(std::string, dataset, "fashion-mnist",
          "fashion-mnist | mnist | cifar10 | cifar100 | folder");
ABSL_FLAG(std::string, data_dir, "",
          "Data directory (default for fashion-mnist: /usr/share/datasets/fashion-mnist)");
ABSL_FLAG(std::string, image_size, "32x32", "folder: resize images to HxW");
ABSL_FLAG(int32_t, channels, 3, "folder: 1 (gray) or 3 (RGB)");
ABSL_FLAG(bool, skip_bad_files, false, "folder: skip unreadable images instead of failing");
ABSL_FLAG(int64_t, train_samples, 0, "Use only this many training samples (0 = all)");
ABSL_FLAG(int64_t, test_samples, 0, "Use only this many test samples (0 = all)");
ABSL_FLAG(double, validation_fraction, 0.0,
          "Hold out this fraction of the training set for per-epoch validation (else the test "
          "set is evaluated each epoch)");
ABSL_FLAG(std::string, normalize, "per_channel", "per_channel | mean_image | none");
ABSL_FLAG(std::string, classes, "",
          "Keep only these class indices, e.g. 0,6 (relabelled in that order)");
ABSL_FLAG(std::string, augment, "",
          "Augmentation pipeline, e.g. hflip=0.5,crop=4,rotate=10,jitter=0.2:0.2:0.2:0.05,"
          "cutout=8");
// Optimization.
ABSL_FLAG(int64_t, epochs, 10, "Epochs to train");
ABSL_FLAG(int64_t, batch_size, 64, "Mini-batch size");
ABSL_FLAG(std::string, optimizer, "sgd:lr=0.05,momentum=0.9,nesterov=1,weight_decay=5e-4",
          "Optimizer spec: sgd|adam|adamw|rmsprop|adagrad[:key=value,...] (see "
          "optim/make_optimizer.h)");
ABSL_FLAG(std::string, schedule, "cosine:t_max=auto",
          "LR schedule spec (constant, step, multistep, exp, inv, cosine, sgdr, cyclic, "
          "onecycle; warmup=N, per=iter|epoch; see optim/lr_schedule.h). A value 'auto' stands "
          "for the total number of iterations of the run");
ABSL_FLAG(std::string, regularizer, "none", "none | l2:<c> | l1:<c> | elastic:<l1>:<l2>");
ABSL_FLAG(std::string, loss, "xent",
          "xent (softmax cross-entropy) | svm (multiclass hinge) | nll (negative log-likelihood; "
          "the model must end in log_softmax)");
ABSL_FLAG(std::string, class_weights, "",
          "xent/nll: per-class loss weights, comma-separated, one per class (PyTorch's weight=)");
ABSL_FLAG(double, label_smoothing, 0.0, "Label smoothing for xent, in [0, 1)");
ABSL_FLAG(double, clip_norm, 0.0, "Clip the global gradient norm to this (0 = off)");
ABSL_FLAG(double, clip_value, 0.0, "Clamp gradient elements to +-this (0 = off)");
ABSL_FLAG(int64_t, early_stopping, 0,
          "Stop after this many epochs without a better eval accuracy (0 = off)");
ABSL_FLAG(int64_t, max_batches, 0, "Cap batches per epoch (0 = all)");
ABSL_FLAG(std::string, batch_split, "auto",
          "auto | on | off: split each training batch across the --threads, one model replica "
          "per thread (one parallel loop per step instead of one per layer; BatchNorm layers "
          "exchange their statistics, so they normalize over the whole batch); auto does it for "
          "models of up to 4M parameters. Results differ from off in float rounding only");
ABSL_FLAG(int64_t, ensemble, 1, "Train this many models with different seeds and ensemble");
ABSL_FLAG(bool, snapshots, false,
          "Snapshot ensemble: save a snapshot at the end of every SGDR/cyclic LR cycle");
ABSL_FLAG(int64_t, snapshot_every, 0, "Snapshot every N epochs instead of at cycle ends");
ABSL_FLAG(bool, progress, true, "Show progress on stderr");
ABSL_FLAG(int64_t, stop_after, 0,
          "Testing: act as if interrupted (Ctrl-C) after this many iterations (0 = never)");
ABSL_FLAG(bool, report, true, "Write report.html and curve PNGs into --out");
// Data-parallel training under mpirun (docs/dist.md); ignored in a single process.
ABSL_FLAG(double, dist_timeout, 300,
          "train under mpirun: seconds a rank waits for the others in a collective before it "
          "ends the job with an error (a dead or hung rank)");
ABSL_FLAG(int64_t, dist_bucket_kib, 1024,
          "train under mpirun: gradient allreduce bucket size in KiB");
// eval / predict / finetune / summary.
ABSL_FLAG(std::string, weights, "",
          "a PyTorch state_dict as safetensors (tools/interop/torchvision_export.py) used as "
          "--checkpoint by every command that takes one; --model=ARCH names its torchvision "
          "architecture when the file does not");
ABSL_FLAG(std::string, checkpoint, "",
          "eval/predict/finetune/summary: checkpoint file(s), comma-separated for an ensemble");
ABSL_FLAG(int64_t, top_k, 3, "predict: classes to print per image");
ABSL_FLAG(std::string, class_groups, "",
          "eval / predict: sum the probabilities of groups of classes into a classifier of the "
          "groups, e.g. dog:151-268,food:924-969 (ImageNet) or a file of 'NAME: RANGES' lines; "
          "eval then scores it against data classes named after the groups");
ABSL_FLAG(std::string, freeze, "features",
          "finetune: freeze parameters under these name prefixes (comma-separated; 'backbone' = "
          "all but the head, e.g. for a ResNet; empty = fine-tune all)");
ABSL_FLAG(double, backbone_lr_scale, 0.0,
          "finetune with --freeze='': learning-rate scale for the non-head layers");
ABSL_FLAG(bool, compare_scratch, true, "finetune: also train from scratch with the same budget");
ABSL_FLAG(std::string, input_shape, "",
          "summary/bench: override the input shape, e.g. 3x32x32");
ABSL_FLAG(std::string, batch_sizes, "1,64,256", "bench: batch sizes to time, comma-separated");
ABSL_FLAG(double, bench_seconds, 1.0, "bench: measuring time per batch size (and profile)");
ABSL_FLAG(std::string, bench_train, "",
          "bench: also time training steps, per comma-separated item: 'full' (every parameter "
          "learns) or a freeze list ('backbone' = only the head learns; prefixes joined by '+')");
ABSL_FLAG(bool, profile, false,
          "train/bench: print the per-layer profile (forward/backward time, share, GFLOPS)");
ABSL_FLAG(int64_t, num_classes, 10, "summary: classes of the model");
ABSL_FLAG(bool, plan, false,
          "summary: also print the convolution algorithm of each conv layer and pass at "
          "--batch_size, and why");

namespace simdnet {
namespace {

constexpr char kUsage[] = R"(simdnet: train and study CNNs on a CPU.

usage: simdnet <command> [flags]

commands:
  train     train a model (--model, --dataset, --epochs, ...) into --out; --resume continues
  eval      evaluate --checkpoint (several, comma-separated: also their ensemble)
  predict   classify image files: simdnet predict --checkpoint=C a.png b.jpg
  finetune  replace the head of --checkpoint for the data's classes (e.g. --classes=0,6),
            freeze --freeze, fine-tune, and compare with training from scratch
  summary   print the layer table of --model (or --checkpoint); --plan adds the convolution
            algorithm per conv layer and pass
  bench     inference images/s of --model (or --checkpoint) at --batch_sizes, latency at
            batch 1; --profile adds per-layer tables of inference and a training step

)";

// The job's communicator for `train` (MPI under mpirun, else a single process); created on
// first use, finalized by main, aborted by main after an error in a multi-rank job.
std::unique_ptr<Communicator>& JobCommunicator() {
  static std::unique_ptr<Communicator> comm;
  return comm;
}

absl::StatusOr<Communicator*> ConnectJob() {
  std::unique_ptr<Communicator>& comm = JobCommunicator();
  if (comm == nullptr) {
    SIMDNET_ASSIGN_OR_RETURN(comm, ConnectFromEnvironment());
    absl::Status s = comm->set_timeout_seconds(absl::GetFlag(FLAGS_dist_timeout));
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("--dist_timeout: ", s.message()));
  }
  return comm.get();
}

// The signal that asked the run to stop (0: none), for the exit status 128 + signal.
volatile std::sig_atomic_t g_stop_signal = 0;

// The training run's stop request, set by SIGINT / SIGTERM (an atomic store: signal-safe).
StopToken g_stop;

void OnSignal(int sig) {
  g_stop_signal = sig;
  g_stop.Request();
}

// The flags given on the command line (names without dashes or a "no" prefix of booleans).
std::set<std::string>& ExplicitFlags() {
  static std::set<std::string> names;
  return names;
}

void RecordExplicitFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (a == "--") break;
    if (!absl::ConsumePrefix(&a, "--") && !absl::ConsumePrefix(&a, "-")) continue;
    a = a.substr(0, a.find('='));
    ExplicitFlags().insert(std::string(a));
    if (absl::ConsumePrefix(&a, "no")) ExplicitFlags().insert(std::string(a));
  }
}

// The flags that define a training run: stored in its checkpoints, so that `train --resume`
// continues the same run without them.
constexpr const char* kRunFlags[] = {
    "model",        "seed",           "dataset",      "data_dir",       "image_size",
    "channels",     "skip_bad_files", "train_samples", "test_samples",  "validation_fraction",
    "normalize",    "classes",        "augment",      "epochs",         "batch_size",
    "optimizer",    "schedule",       "regularizer",  "loss",           "label_smoothing",
    "class_weights",
    "clip_norm",    "clip_value",     "early_stopping", "max_batches",  "ensemble",
    "snapshots",    "snapshot_every"};
// Run flags that a resumed run may change: the epoch budget and the patience.
constexpr const char* kResumeOverridable[] = {"epochs", "early_stopping"};

std::map<std::string, std::string> CurrentRunFlags() {
  std::map<std::string, std::string> out;
  for (const char* name : kRunFlags) {
    if (absl::CommandLineFlag* f = absl::FindCommandLineFlag(name)) out[name] = f->CurrentValue();
  }
  return out;
}

// For `train --resume`: takes every run flag not given on the command line from the run's
// checkpoint; a given one that differs is an error unless the run may change it. Returns the
// stored position, or nullopt for a checkpoint written before run flags were stored (then the
// flags must be repeated, as before).
absl::StatusOr<std::optional<StoredRun>> ApplyStoredRunFlags(const std::string& out_dir) {
  std::string path = out_dir + "/checkpoint.safetensors";
  if (!std::filesystem::exists(path) &&
      std::filesystem::exists(out_dir + "/member_0/checkpoint.safetensors")) {
    path = out_dir + "/member_0/checkpoint.safetensors";  // an ensemble's first member
  }
  absl::StatusOr<StoredRun> stored = ReadStoredRun(path);
  if (!stored.ok()) {
    return absl::Status(stored.status().code(),
                        absl::StrCat("--resume: ", stored.status().message()));
  }
  if (stored->flags.empty()) return std::optional<StoredRun>();
  for (const auto& [name, value] : stored->flags) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;
    if (ExplicitFlags().count(name) > 0) {
      const bool overridable = std::any_of(std::begin(kResumeOverridable),
                                           std::end(kResumeOverridable),
                                           [&](const char* n) { return name == n; });
      if (!overridable && flag->CurrentValue() != value) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--", name, "=", flag->CurrentValue(), " conflicts with the run being resumed (",
            path, " was trained with --", name, "=", value, "); drop the flag to resume"));
      }
      continue;
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": stored flag --", name, "=", value, ": ", error));
    }
  }
  return std::optional<StoredRun>(*stored);
}

absl::StatusOr<DataOptions> DataFromFlags() {
  DataOptions d;
  d.dataset = absl::GetFlag(FLAGS_dataset);
  d.data_dir = absl::GetFlag(FLAGS_data_dir);
  const std::string size = absl::GetFlag(FLAGS_image_size);
  std::vector<std::string> hw = absl::StrSplit(size, 'x');
  if (hw.size() != 2 || !absl::SimpleAtoi(hw[0], &d.image_height) ||
      !absl::SimpleAtoi(hw[1], &d.image_width) || d.image_height < 1 || d.image_width < 1 ||
      d.image_height > 4096 || d.image_width > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("--image_size=", size, ": expected HxW with sizes in [1, 4096]"));
  }
  d.channels = absl::GetFlag(FLAGS_channels);
  d.skip_bad_files = absl::GetFlag(FLAGS_skip_bad_files);
  d.train_samples = absl::GetFlag(FLAGS_train_samples);
  d.test_samples = absl::GetFlag(FLAGS_test_samples);
  d.validation_fraction = absl::GetFlag(FLAGS_validation_fraction);
  d.normalize = absl::GetFlag(FLAGS_normalize);
  d.seed = absl::GetFlag(FLAGS_seed);
  const std::string classes = absl::GetFlag(FLAGS_classes);
  if (!classes.empty()) {
    for (absl::string_view c : absl::StrSplit(classes, ',')) {
      int64_t v;
      if (!absl::SimpleAtoi(c, &v)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--classes=", classes, ": '", c, "' is not a class index"));
      }
      d.classes.push_back(v);
    }
  }
  return d;
}

// Returns --input_shape ("3x32x32") parsed, or nullopt when it is empty.
absl::StatusOr<std::optional<Shape>> InputShapeFromFlag() {
  const std::string s = absl::GetFlag(FLAGS_input_shape);
  if (s.empty()) return std::optional<Shape>();
  std::string commas = s;
  std::replace(commas.begin(), commas.end(), 'x', ',');
  absl::StatusOr<Shape> parsed = ShapeFromText(commas);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--input_shape=", s, ": ", parsed.status().message()));
  }
  return std::optional<Shape>(*parsed);
}

absl::StatusOr<TrainCommandOptions> TrainFromFlags() {
  TrainCommandOptions o;
  o.model = absl::GetFlag(FLAGS_model);
  o.model_seed = absl::GetFlag(FLAGS_seed);
  TrainerOptions& t = o.trainer;
  t.epochs = absl::GetFlag(FLAGS_epochs);
  t.batch_size = absl::GetFlag(FLAGS_batch_size);
  t.optimizer = absl::GetFlag(FLAGS_optimizer);
  t.schedule = absl::GetFlag(FLAGS_schedule);
  t.regularizer = absl::GetFlag(FLAGS_regularizer);
  t.loss = absl::GetFlag(FLAGS_loss);
  const std::string weights = absl::GetFlag(FLAGS_class_weights);
  if (!weights.empty()) {
    SIMDNET_ASSIGN_OR_RETURN(t.class_weights, ParseFloatList(weights, "--class_weights"));
  }
  t.label_smoothing = static_cast<float>(absl::GetFlag(FLAGS_label_smoothing));
  t.clip_norm = absl::GetFlag(FLAGS_clip_norm);
  t.clip_value = absl::GetFlag(FLAGS_clip_value);
  t.augment = absl::GetFlag(FLAGS_augment);
  t.seed = absl::GetFlag(FLAGS_seed);
  t.run_dir = absl::GetFlag(FLAGS_out);
  t.early_stopping_patience = absl::GetFlag(FLAGS_early_stopping);
  t.max_batches_per_epoch = absl::GetFlag(FLAGS_max_batches);
  t.batch_split = absl::GetFlag(FLAGS_batch_split);
  t.progress = absl::GetFlag(FLAGS_progress);
  t.snapshots = absl::GetFlag(FLAGS_snapshots);
  t.snapshot_every = absl::GetFlag(FLAGS_snapshot_every);
  t.stop_after = absl::GetFlag(FLAGS_stop_after);
  t.stop = &g_stop;
  o.ensemble = absl::GetFlag(FLAGS_ensemble);
  o.resume = absl::GetFlag(FLAGS_resume);
  o.write_report = absl::GetFlag(FLAGS_report);
  SIMDNET_ASSIGN_OR_RETURN(o.data, DataFromFlags());
  return o;  // RunTrain / RunFinetune validate the trainer options before loading data
}

// Runs `command`; returns the process exit status (0, or 128 + signal for an interrupted run).
absl::StatusOr<int> Main(const std::string& command, const std::vector<std::string>& args) {
  const std::string threads = absl::GetFlag(FLAGS_threads);
  if (!threads.empty()) {
    SIMDNET_ASSIGN_OR_RETURN(size_t n, ParseThreadCount(threads, "--threads"));
    SetDefaultThreadCount(n);
  }
  std::cerr << "simdnet: SIMD target " << BestTargetName() << ", "
            << DefaultThreadPool().NumThreads() << " threads\n";
  if (!absl::GetFlag(FLAGS_weights).empty()) {
    if (!absl::GetFlag(FLAGS_checkpoint).empty()) {
      return absl::InvalidArgumentError("--weights and --checkpoint: give one of them");
    }
    absl::SetFlag(&FLAGS_checkpoint, absl::GetFlag(FLAGS_weights));
    if (IsTorchvisionArch(absl::GetFlag(FLAGS_model))) {
      SetDefaultTorchArch(absl::GetFlag(FLAGS_model));
    }
  }
  if (command != "train" && LaunchedByMpiLauncher()) {
    // Every rank would run the whole command and write the same files.
    return absl::InvalidArgumentError(absl::StrCat(
        command, ": only `train` runs data-parallel under mpirun; run it without mpirun"));
  }
  if (IsInterpretCommand(command)) {
    InterpretCommonOptions c;
    c.checkpoint = absl::GetFlag(FLAGS_checkpoint);
    // The interpretation commands default to a folder beside the checkpoint.
    c.out_dir = absl::GetFlag(FLAGS_out) == "runs/latest" ? "" : absl::GetFlag(FLAGS_out);
    c.seed = absl::GetFlag(FLAGS_seed);
    SIMDNET_ASSIGN_OR_RETURN(c.data, DataFromFlags());
    c.files = args;
    SIMDNET_ASSIGN_OR_RETURN(std::string text, RunInterpretCommand(command, c));
    std::cout << text;
    return 0;
  }
  if (command != "predict" && !args.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": unexpected argument '", args[0], "' (flags are --name=value)"));
  }
  if (command == "train") {
    const std::string out_dir = absl::GetFlag(FLAGS_out);
    if (absl::GetFlag(FLAGS_resume)) {
      SIMDNET_ASSIGN_OR_RETURN(std::optional<StoredRun> stored, ApplyStoredRunFlags(out_dir));
      const int64_t epochs = absl::GetFlag(FLAGS_epochs);
      if (stored && stored->batch_in_epoch == 0 && stored->epochs_done >= epochs) {
        std::cout << absl::StrFormat(
            "%s: the run is complete (%d of %d epochs); nothing to do. Pass --epochs=N with "
            "N > %d to train on.\n",
            out_dir, stored->epochs_done, epochs, stored->epochs_done);
        return 0;
      }
    }
    SIMDNET_ASSIGN_OR_RETURN(TrainCommandOptions o, TrainFromFlags());
    o.run_flags = CurrentRunFlags();
    o.profile = absl::GetFlag(FLAGS_profile);
    SIMDNET_ASSIGN_OR_RETURN(Communicator * comm, ConnectJob());
    const int64_t bucket_kib = absl::GetFlag(FLAGS_dist_bucket_kib);
    if (bucket_kib < 1 || bucket_kib > (int64_t{1} << 21)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--dist_bucket_kib=", bucket_kib, ": must be in [1, 2097152]"));
    }
    const bool main_rank = comm->rank() == 0;
    if (comm->size() > 1) {
      o.trainer.comm = comm;
      o.trainer.dist_bucket_bytes = bucket_kib * 1024;
      if (main_rank) {
        std::cerr << absl::StrFormat(
            "data-parallel: %s; global batch %d (%d-%d per rank), allreduce buckets of %d KiB, "
            "timeout %.0f s\n",
            comm->Describe(), o.trainer.batch_size, o.trainer.batch_size / comm->size(),
            (o.trainer.batch_size + comm->size() - 1) / comm->size(), bucket_kib,
            comm->timeout_seconds());
      }
    }
    SIMDNET_ASSIGN_OR_RETURN(TrainCommandResult r, RunTrain(o));
    if (!main_rank) {
      // Rank 0 reports; the others exit as it does (128 + signal when stopped).
      return r.interrupted ? 128 + (g_stop_signal != 0 ? g_stop_signal : SIGINT) : 0;
    }
    if (!r.members.empty() && r.members.back().ranks > 1) {
      const TrainResult& m = r.members.back();
      std::cout << absl::StrFormat(
          "data-parallel: %d ranks; training steps %.1f s, of which waiting for the allreduce "
          "%.1f s (%.1f%%)\n",
          m.ranks, m.step_seconds, m.allreduce_wait_seconds,
          m.step_seconds > 0 ? 100 * m.allreduce_wait_seconds / m.step_seconds : 0.0);
    }
    if (r.interrupted) {
      const int sig = g_stop_signal != 0 ? static_cast<int>(g_stop_signal) : SIGINT;
      std::cerr << "simdnet train: interrupted; the checkpoint is saved. Resume with:\n"
                << "  simdnet train --resume --out=" << out_dir << "\n";
      return 128 + sig;
    }
    for (size_t m = 0; m < r.member_test_accuracy.size() && r.member_test_accuracy.size() > 1;
         ++m) {
      std::cout << absl::StrFormat("member %d test accuracy: %.2f%%\n", m,
                                   100 * r.member_test_accuracy[m]);
    }
    if (r.test.samples == 0) {
      std::cout << "no held-out set: the final accuracy was not measured (add a test/ folder "
                   "or --validation_fraction)\n";
    } else {
      std::cout << absl::StrFormat("%s test accuracy: %.2f%% (top-5 %.2f%%), loss %.4f\n",
                                   r.members.size() > 1 ? "ensemble" : "final",
                                   100 * r.test.accuracy, 100 * r.test.top5_accuracy,
                                   r.test.loss);
    }
    if (!r.members.empty()) {
      std::cout << absl::StrFormat("wall time: %.1f s\n", r.members.back().wall_seconds);
    }
    if (o.write_report && o.ensemble == 1) std::cout << "report: " << r.report_path << "\n";
    return 0;
  }
  if (command == "eval") {
    SIMDNET_ASSIGN_OR_RETURN(DataOptions d, DataFromFlags());
    std::vector<std::string> ckpts = absl::StrSplit(absl::GetFlag(FLAGS_checkpoint), ',',
                                                    absl::SkipEmpty());
    SIMDNET_RETURN_IF_ERROR(RunEval(ckpts, d, 256, absl::GetFlag(FLAGS_class_groups)).status());
    return 0;
  }
  if (command == "predict") {
    SIMDNET_ASSIGN_OR_RETURN(auto preds, RunPredict(absl::GetFlag(FLAGS_checkpoint), args,
                                                    absl::GetFlag(FLAGS_top_k),
                                                    absl::GetFlag(FLAGS_class_groups)));
    for (const Prediction& p : preds) {
      std::cout << p.file << ":";
      for (const auto& [name, prob] : p.top) {
        std::cout << absl::StrFormat("  %s %.1f%%", name, 100 * prob);
      }
      if (!p.groups.empty()) std::cout << "  | groups:";
      for (const auto& [name, prob] : p.groups) {
        std::cout << absl::StrFormat("  %s %.1f%%", name, 100 * prob);
      }
      std::cout << "\n";
    }
    return 0;
  }
  if (command == "finetune") {
    FinetuneOptions f;
    f.checkpoint = absl::GetFlag(FLAGS_checkpoint);
    f.freeze = absl::GetFlag(FLAGS_freeze);
    f.backbone_lr_scale = absl::GetFlag(FLAGS_backbone_lr_scale);
    f.compare_scratch = absl::GetFlag(FLAGS_compare_scratch);
    SIMDNET_ASSIGN_OR_RETURN(f.train, TrainFromFlags());
    SIMDNET_ASSIGN_OR_RETURN(FinetuneResult r, RunFinetune(f));
    std::cout << absl::StrFormat("accuracy before fine-tuning (new head): %.2f%%\n",
                                 100 * r.before_accuracy);
    std::cout << absl::StrFormat("accuracy after fine-tuning:             %.2f%%\n",
                                 100 * r.after_accuracy);
    if (r.scratch_accuracy >= 0) {
      std::cout << absl::StrFormat("accuracy trained from scratch:          %.2f%%\n",
                                   100 * r.scratch_accuracy);
    }
    return 0;
  }
  if (command == "bench") {
    BenchOptions b;
    b.model = absl::GetFlag(FLAGS_model);
    b.checkpoint = absl::GetFlag(FLAGS_checkpoint);
    SIMDNET_ASSIGN_OR_RETURN(b.input_shape, InputShapeFromFlag());
    b.num_classes = absl::GetFlag(FLAGS_num_classes);
    SIMDNET_ASSIGN_OR_RETURN(b.batch_sizes,
                             ParseIntList(absl::GetFlag(FLAGS_batch_sizes), "--batch_sizes"));
    b.seconds = absl::GetFlag(FLAGS_bench_seconds);
    b.profile = absl::GetFlag(FLAGS_profile);
    b.train_modes = absl::StrSplit(absl::GetFlag(FLAGS_bench_train), ',', absl::SkipEmpty());
    SIMDNET_ASSIGN_OR_RETURN(std::string report, RunBench(b));
    std::cout << report;
    return 0;
  }
  if (command == "summary") {
    SIMDNET_ASSIGN_OR_RETURN(std::optional<Shape> shape, InputShapeFromFlag());
    const std::string ckpt = absl::GetFlag(FLAGS_checkpoint);
    SIMDNET_ASSIGN_OR_RETURN(std::string table,
                             RunSummary(ckpt.empty() ? absl::GetFlag(FLAGS_model) : ckpt, shape,
                                        absl::GetFlag(FLAGS_num_classes),
                                        absl::GetFlag(FLAGS_plan),
                                        absl::GetFlag(FLAGS_batch_size)));
    std::cout << table;
    return 0;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown command '", command, "' (expected train, eval, predict, finetune, summary, ",
      "bench, or an interpretation command: filters, patches, activations, tsne, saliency, ",
      "adversarial, classvis, inspect)"));
}

}  // namespace
}  // namespace simdnet

int main(int argc, char** argv) {
  static const std::string usage = absl::StrCat(simdnet::kUsage, simdnet::InterpretUsage(),
                                                "\nRun `simdnet --help` for every flag.");
  absl::SetProgramUsageMessage(usage);
  simdnet::RecordExplicitFlags(argc, argv);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) {
    std::fprintf(stderr, "%s\n", usage.c_str());
    return 2;
  }
  std::signal(SIGINT, simdnet::OnSignal);
  std::signal(SIGTERM, simdnet::OnSignal);
  const std::string command = positional[1];
  std::vector<std::string> args(positional.begin() + 2, positional.end());
  absl::StatusOr<int> status = absl::InternalError("not run");
  try {
    status = simdnet::Main(command, args);
  } catch (const std::bad_alloc&) {
    // The memory check before training refuses what cannot fit; this catches what it missed
    // (an estimate, not a bound) so the user gets a message instead of an abort.
    status = absl::ResourceExhaustedError(
        "out of memory; try a smaller --batch_size (see `simdnet summary` for the estimate)");
  }
  std::unique_ptr<simdnet::Communicator>& comm = simdnet::JobCommunicator();
  if (!status.ok()) {
    if (comm != nullptr && comm->size() > 1) {
      // The other ranks may be blocked in a collective or dead: end the whole job now.
      // (Errors of collectives already name the rank.)
      const std::string msg(status.status().message());
      if (msg.rfind("rank ", 0) == 0) {
        std::fprintf(stderr, "simdnet %s: %s\n", command.c_str(), msg.c_str());
      } else {
        std::fprintf(stderr, "simdnet %s (rank %d of %d): %s\n", command.c_str(), comm->rank(),
                     comm->size(), msg.c_str());
      }
      std::fflush(stderr);
      comm->Abort(1);
    }
    std::fprintf(stderr, "simdnet %s: %s\n", command.c_str(),
                 std::string(status.status().message()).c_str());
    return 1;
  }
  comm.reset();  // MPI_Finalize: every rank got here
  return *status;
}
