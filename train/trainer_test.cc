// Tests for the trainer and checkpoints: learning on a toy problem, bit-identical resume after an
// interruption mid-epoch, the NaN guard, evaluation/ensembles, and checkpoint validation.
#include "train/trainer.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "layers/model_spec.h"
#include "tensor/rng.h"
#include "tensor/atomic_file.h"
#include "tensor/thread_pool.h"
#include "train/checkpoint.h"
#include "train/safetensors.h"

namespace simdnet {
namespace {

constexpr char kSpec[] = R"(input 1x8x8
conv 4 k3 p1 nobias; bn; relu; maxpool k2
flatten; dropout 0.25; linear classes
)";

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(base ? base : "/tmp", "/", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Two classes that differ in which half of the image is bright, plus noise.
InMemoryDataset ToyData(int64_t n, uint64_t seed) {
  InMemoryDataset d;
  d.num = n;
  d.channels = 1;
  d.height = 8;
  d.width = 8;
  d.classes = {"left", "right"};
  Rng rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t label = static_cast<int32_t>(rng.UniformInt(2));
    d.labels.push_back(label);
    for (int64_t y = 0; y < 8; ++y) {
      for (int64_t x = 0; x < 8; ++x) {
        const bool bright = (x < 4) == (label == 0);
        const float v = (bright ? 0.7f : 0.2f) + 0.25f * (rng.Uniform() - 0.5f);
        d.pixels.push_back(static_cast<uint8_t>(std::lround(255.0f * v)));
      }
    }
  }
  return d;
}

struct TrainRun {
  std::unique_ptr<Model> model;
  std::unique_ptr<Trainer> trainer;
};

TrainRun MakeRun(const TrainingData& data, const TrainerOptions& options,
                 const char* spec = kSpec) {
  TrainRun r;
  auto model = ModelFromSpec(spec, std::nullopt, 2, /*seed=*/7);
  EXPECT_TRUE(model.ok()) << model.status();
  r.model = std::move(model).value();
  CheckpointInfo info;
  info.model_spec = spec;
  info.input_shape = r.model->InputShape();
  info.num_classes = 2;
  info.class_names = {"left", "right"};
  auto trainer = Trainer::Create(options, data, r.model.get(), info);
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  r.trainer = std::move(trainer).value();
  return r;
}

TrainerOptions BaseOptions(const std::string& dir) {
  TrainerOptions o;
  o.epochs = 3;
  o.batch_size = 8;
  o.optimizer = "sgd:lr=0.1,momentum=0.9";
  o.schedule = "cosine:t_max=auto";
  o.regularizer = "l2:1e-4";
  o.augment = "crop=1";  // (a flip would swap the toy classes)
  o.seed = 3;
  o.run_dir = dir;
  o.progress = false;
  return o;
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    train_ = ToyData(96, 1);
    test_ = ToyData(64, 2);
    data_.train = &train_;
    data_.eval = &test_;
    auto norm = ComputePerChannelStats(train_);
    ASSERT_TRUE(norm.ok());
    data_.normalization = *norm;
  }
  InMemoryDataset train_, test_;
  TrainingData data_;
};

TEST_F(TrainerTest, LearnsTheToyProblemAndWritesLogsAndCheckpoints) {
  const std::string dir = TempDir("learns");
  TrainRun r = MakeRun(data_, BaseOptions(dir));
  auto result = r.trainer->Run();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->epochs_completed, 3);
  EXPECT_EQ(result->iterations, 3 * 12);
  ASSERT_EQ(result->history.size(), 3u);
  EXPECT_GT(result->history.back().test_accuracy, 0.9);
  for (const char* f : {"metrics.csv", "iterations.csv", "checkpoint.safetensors",
                        "best.safetensors"}) {
    EXPECT_TRUE(std::filesystem::exists(absl::StrCat(dir, "/", f))) << f;
  }
  auto csv = ReadFile(dir + "/metrics.csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(std::count(csv->begin(), csv->end(), '\n'), 4);  // header + 3 epochs
  // The saved model evaluates exactly like the trained one.
  auto ck = ReadCheckpoint(dir + "/checkpoint.safetensors");
  ASSERT_TRUE(ck.ok()) << ck.status();
  auto loaded = ModelFromCheckpoint(*ck);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto a = Evaluate(*r.model, test_, ck->info.normalization, {});
  auto b = Evaluate(**loaded, test_, ck->info.normalization, {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->accuracy, b->accuracy);
  EXPECT_EQ(a->loss, b->loss);
}

// A kill between committing best.safetensors and checkpoint.safetensors (simulated: the best
// write fails) must never leave a checkpoint that names a best epoch whose file is missing.
TEST_F(TrainerTest, FailedBestWriteNeverLeavesACheckpointWithoutItsBestFile) {
  const std::string dir = TempDir("best_first");
  TrainRun r = MakeRun(data_, BaseOptions(dir));
  detail::SetAtomicWriteFaultForTesting(detail::AtomicWriteFault::kBeforeRename,
                                        "/best.safetensors");
  auto result = r.trainer->Run();
  detail::SetAtomicWriteFaultForTesting(detail::AtomicWriteFault::kNone);
  ASSERT_FALSE(result.ok());
  if (std::filesystem::exists(dir + "/checkpoint.safetensors")) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/best.safetensors"))
        << "checkpoint.safetensors names a best epoch but best.safetensors is missing";
  }
  // And a failed checkpoint write after a good best write leaves a loadable best file.
  const std::string dir2 = TempDir("best_then_checkpoint");
  TrainRun r2 = MakeRun(data_, BaseOptions(dir2));
  detail::SetAtomicWriteFaultForTesting(detail::AtomicWriteFault::kBeforeRename,
                                        "/checkpoint.safetensors");
  EXPECT_FALSE(r2.trainer->Run().ok());
  detail::SetAtomicWriteFaultForTesting(detail::AtomicWriteFault::kNone);
  EXPECT_FALSE(std::filesystem::exists(dir2 + "/checkpoint.safetensors"));
  EXPECT_TRUE(ReadCheckpoint(dir2 + "/best.safetensors").ok());
}

TEST_F(TrainerTest, StartingRemovesStaleTempFilesOfKilledWrites) {
  const std::string dir = TempDir("stale_temps");
  ASSERT_TRUE(WriteFileAtomically(dir + "/checkpoint.safetensors.tmp.4242.7", "partial").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/notes.tmp.txt", "mine").ok());
  TrainRun r = MakeRun(data_, BaseOptions(dir));
  EXPECT_FALSE(std::filesystem::exists(dir + "/checkpoint.safetensors.tmp.4242.7"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/notes.tmp.txt"));
}

TEST_F(TrainerTest, ProgressGoesToTheCallersLogSink) {
  std::ostringstream log;
  TrainerOptions o = BaseOptions(TempDir("log_sink"));
  o.progress = true;
  o.log = &log;
  TrainRun r = MakeRun(data_, o);
  ASSERT_TRUE(r.trainer->Run().ok());
  EXPECT_NE(log.str().find("epoch 3/3:"), std::string::npos) << log.str();
}

TEST_F(TrainerTest, NullLogSinkIsSilentAndCheckpointCallbackSeesEveryFile) {
  const std::string dir = TempDir("callbacks");
  TrainerOptions o = BaseOptions(dir);
  o.progress = true;
  o.log = nullptr;
  o.snapshots = true;
  o.snapshot_every = 2;
  TrainRun r = MakeRun(data_, o);
  std::vector<std::string> saved;
  int64_t epochs_seen = 0, last_iteration = 0;
  r.trainer->on_checkpoint = [&](const std::string& path) { saved.push_back(path); };
  r.trainer->on_epoch = [&](const EpochRecord& rec) { epochs_seen = rec.epoch; };
  r.trainer->on_iteration = [&](int64_t it, float) { last_iteration = it; };
  auto result = r.trainer->Run();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(epochs_seen, o.epochs);
  EXPECT_EQ(last_iteration, result->iterations);
  // Every epoch ends with checkpoint.safetensors; best and the snapshot come before it.
  int64_t checkpoints = 0, snapshots = 0;
  for (const std::string& path : saved) {
    EXPECT_TRUE(std::filesystem::exists(path)) << path;
    checkpoints += path == dir + "/checkpoint.safetensors";
    snapshots += path == dir + "/snapshot_1.safetensors";
  }
  EXPECT_EQ(checkpoints, o.epochs);
  EXPECT_EQ(snapshots, 1);
  ASSERT_FALSE(saved.empty());
  EXPECT_EQ(saved.back(), dir + "/checkpoint.safetensors");
}

TEST_F(TrainerTest, ResumeAfterInterruptionIsBitIdentical) {
  const std::string dir_a = TempDir("uninterrupted"), dir_b = TempDir("interrupted");
  TrainRun a = MakeRun(data_, BaseOptions(dir_a));
  ASSERT_TRUE(a.trainer->Run().ok());

  StopToken stop;
  TrainerOptions ob = BaseOptions(dir_b);
  ob.stop = &stop;
  TrainRun b = MakeRun(data_, ob);
  b.trainer->on_iteration = [&stop](int64_t it, float) {
    if (it == 17) stop.Request();  // epoch 2, batch 5
  };
  auto stopped = b.trainer->Run();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_TRUE(stopped->interrupted);
  EXPECT_EQ(stopped->iterations, 17);

  // A fresh process: new model and trainer, restored from the checkpoint.
  TrainRun c = MakeRun(data_, BaseOptions(dir_b));
  auto ck = ReadCheckpoint(dir_b + "/checkpoint.safetensors");
  ASSERT_TRUE(ck.ok()) << ck.status();
  ASSERT_TRUE(LoadModelState(*ck, *c.model).ok());
  ASSERT_TRUE(c.trainer->Resume(*ck).ok());
  auto resumed = c.trainer->Run();
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->iterations, 36);

  auto pa = a.model->Params(), pc = c.model->Params();
  ASSERT_EQ(pa.size(), pc.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    ASSERT_EQ(pa[i].name, pc[i].name);
    const Tensor& x = pa[i].param->value;
    const Tensor& y = pc[i].param->value;
    ASSERT_EQ(x.size(), y.size());
    for (int64_t j = 0; j < x.size(); ++j) {
      ASSERT_EQ(x[j], y[j]) << pa[i].name << "[" << j << "] differs after resume";
    }
  }
  auto ba = a.model->Buffers(), bc = c.model->Buffers();
  for (size_t i = 0; i < ba.size(); ++i) {
    for (int64_t j = 0; j < ba[i].value->size(); ++j) {
      ASSERT_EQ((*ba[i].value)[j], (*bc[i].value)[j]) << ba[i].name;
    }
  }
  ASSERT_EQ(a.trainer->history().size(), c.trainer->history().size());
  for (size_t e = 0; e < a.trainer->history().size(); ++e) {
    EXPECT_EQ(a.trainer->history()[e].train_loss, c.trainer->history()[e].train_loss);
    EXPECT_EQ(a.trainer->history()[e].test_accuracy, c.trainer->history()[e].test_accuracy);
  }
}

TEST_F(TrainerTest, NonFiniteLossStopsNamingTheIterationAndKeepsTheCheckpoint) {
  const std::string dir = TempDir("nan");
  TrainerOptions o = BaseOptions(dir);
  o.epochs = 1;
  TrainRun r = MakeRun(data_, o);
  ASSERT_TRUE(r.trainer->Run().ok());
  auto before = ReadFile(dir + "/checkpoint.safetensors");
  ASSERT_TRUE(before.ok());

  TrainerOptions o2 = BaseOptions(dir);
  o2.epochs = 2;
  TrainRun bad = MakeRun(data_, o2);
  bad.model->Params()[0].param->value[0] = NAN;
  auto result = bad.trainer->Run();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("iteration 1"), std::string::npos)
      << result.status();
  auto after = ReadFile(dir + "/checkpoint.safetensors");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*before, *after);
}

TEST_F(TrainerTest, RejectsBadOptionsNamingTheField) {
  TrainerOptions o = BaseOptions(TempDir("bad"));
  o.batch_size = 0;
  EXPECT_EQ(ValidateTrainerOptions(o).message(),
            "TrainerOptions.batch_size=0: must be in [1, 65536]");
  o = BaseOptions(TempDir("bad"));
  o.epochs = 0;
  EXPECT_EQ(ValidateTrainerOptions(o).message(), "TrainerOptions.epochs=0: must be in [1, 100000]");
  o = BaseOptions(TempDir("bad"));
  o.loss = "hinge2";
  EXPECT_NE(ValidateTrainerOptions(o).message().find("TrainerOptions.loss=hinge2"),
            std::string::npos);
  o = BaseOptions(TempDir("bad"));
  o.max_batches_per_epoch = -1;
  EXPECT_NE(ValidateTrainerOptions(o).message().find("TrainerOptions.max_batches_per_epoch"),
            std::string::npos);
  o = BaseOptions("");
  EXPECT_NE(ValidateTrainerOptions(o).message().find("TrainerOptions.run_dir"),
            std::string::npos);
  o = BaseOptions(TempDir("bad"));
  o.optimizer = "sgd:lr=-1";
  auto model = ModelFromSpec(kSpec, std::nullopt, 2, 7);
  ASSERT_TRUE(model.ok());
  auto t = Trainer::Create(o, data_, model->get(), CheckpointInfo{});
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("TrainerOptions.optimizer: "), std::string::npos)
      << t.status();
  EXPECT_NE(t.status().message().find("lr"), std::string::npos) << t.status();
}

// A model without BatchNorm (kSpec has one) for the split tests.
constexpr char kSplitSpec[] = R"(input 1x8x8
conv 4 k3 p1 nobias; relu; maxpool k2
flatten; dropout 0.25; linear classes
)";

std::vector<float> Weights(Model& model) {
  std::vector<float> out;
  for (const NamedParameter& p : model.Params()) {
    out.insert(out.end(), p.param->value.data(), p.param->value.data() + p.param->value.size());
  }
  return out;
}

// Runs the test body with a default pool of `threads` threads, restored afterwards.
class ScopedThreadCount {
 public:
  explicit ScopedThreadCount(size_t threads) : saved_(DefaultThreadPool().NumThreads()) {
    SetDefaultThreadCount(threads, "test");
  }
  ~ScopedThreadCount() { SetDefaultThreadCount(saved_, "test"); }

 private:
  size_t saved_;
};

// Trains `spec` with batch_split "on" into *a (run directory `name`_on) and "off" (`name`_off),
// and expects the epochs' train losses to agree within `tolerance` (relative) and the test
// accuracies within `accuracy_tolerance`. Returns the "on" run's result.
absl::StatusOr<TrainResult> TrainSplitOnAndOff(const TrainingData& data, const std::string& name,
                                               const char* spec, double tolerance,
                                               double accuracy_tolerance, TrainRun* a) {
  TrainerOptions on = BaseOptions(TempDir(name + "_on"));
  TrainerOptions off = BaseOptions(TempDir(name + "_off"));
  on.batch_split = "on";
  off.batch_split = "off";
  *a = MakeRun(data, on, spec);
  TrainRun b = MakeRun(data, off, spec);
  auto ra = a->trainer->Run();
  auto rb = b.trainer->Run();
  if (!ra.ok()) return ra.status();
  if (!rb.ok()) return rb.status();
  EXPECT_EQ(ra->history.size(), rb->history.size());
  for (size_t e = 0; e < std::min(ra->history.size(), rb->history.size()); ++e) {
    EXPECT_NEAR(ra->history[e].train_loss, rb->history[e].train_loss,
                tolerance * rb->history[e].train_loss);
    EXPECT_NEAR(ra->history[e].test_accuracy, rb->history[e].test_accuracy, accuracy_tolerance);
  }
  return ra;
}

TEST_F(TrainerTest, BatchSplitTrainsAsTheUnsplitModelAndResumesBitIdentically) {
  ScopedThreadCount two(2);
  TrainRun a;
  // The same steps up to the order of the gradient sums.
  auto ra = TrainSplitOnAndOff(data_, "split", kSplitSpec, 1e-3, 0.02, &a);
  ASSERT_TRUE(ra.ok()) << ra.status();
  EXPECT_GT(ra->history.back().test_accuracy, 0.9);
  TrainerOptions on = BaseOptions(TempDir("split_on"));
  on.batch_split = "on";

  // Interrupted and resumed in a fresh trainer: the weights of the uninterrupted split run.
  StopToken stop;
  TrainerOptions oc = on;
  oc.run_dir = TempDir("split_interrupted");
  oc.stop = &stop;
  TrainRun c = MakeRun(data_, oc, kSplitSpec);
  c.trainer->on_iteration = [&stop](int64_t it, float) {
    if (it == 17) stop.Request();
  };
  ASSERT_TRUE(c.trainer->Run().ok());
  oc.stop = nullptr;
  TrainRun d = MakeRun(data_, oc, kSplitSpec);
  auto ck = ReadCheckpoint(oc.run_dir + "/checkpoint.safetensors");
  ASSERT_TRUE(ck.ok()) << ck.status();
  ASSERT_TRUE(LoadModelState(*ck, *d.model).ok());
  ASSERT_TRUE(d.trainer->Resume(*ck).ok());
  auto rd = d.trainer->Run();
  ASSERT_TRUE(rd.ok()) << rd.status();
  EXPECT_EQ(rd->iterations, ra->iterations);
  EXPECT_EQ(Weights(*d.model), Weights(*a.model));
}

TEST_F(TrainerTest, BatchSplitTrainsBatchNormModelsWithTheWholeBatchStatistics) {
  ScopedThreadCount two(2);
  TrainRun a;
  // kSpec has BatchNorm. The same steps up to float rounding (per-slice statistics would train
  // another model).
  auto ra = TrainSplitOnAndOff(data_, "split_bn", kSpec, 1e-2, 0.02, &a);
  ASSERT_TRUE(ra.ok()) << ra.status();
  // The same again, bit for bit.
  TrainerOptions again = BaseOptions(TempDir("split_bn_again"));
  again.batch_split = "on";
  TrainRun c = MakeRun(data_, again);
  auto rc = c.trainer->Run();
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(Weights(*c.model), Weights(*a.model));
}

TEST_F(TrainerTest, BatchSplitRejectsAnUnknownSettingNamingTheOption) {
  TrainerOptions o = BaseOptions(TempDir("split_bad"));
  o.batch_split = "always";
  EXPECT_NE(ValidateTrainerOptions(o).message().find("TrainerOptions.batch_split=always"),
            std::string::npos);
}

TEST_F(TrainerTest, NllOnALogSoftmaxModelWithClassWeightsLearns) {
  const std::string spec = std::string(kSpec) + "log_softmax\n";
  auto model = ModelFromSpec(spec, std::nullopt, 2, 7);
  ASSERT_TRUE(model.ok()) << model.status();
  TrainerOptions o = BaseOptions(TempDir("nll"));
  o.loss = "nll";
  o.class_weights = {1.0f, 2.0f};
  auto t = Trainer::Create(o, data_, model->get(), CheckpointInfo{});
  ASSERT_TRUE(t.ok()) << t.status();
  auto result = (*t)->Run();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GT(result->history.back().test_accuracy, 0.9);
}

TEST_F(TrainerTest, LossOptionsAreRejectedNamingTheField) {
  auto plain = ModelFromSpec(kSpec, std::nullopt, 2, 7);
  ASSERT_TRUE(plain.ok());
  TrainerOptions o = BaseOptions(TempDir("loss_options"));
  o.loss = "nll";  // on logits: the model does not end in log_softmax
  auto t = Trainer::Create(o, data_, plain->get(), CheckpointInfo{});
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find(
                "TrainerOptions.loss=nll needs a model that ends in log_softmax"),
            std::string::npos) << t.status();
  o = BaseOptions(TempDir("loss_options"));
  o.class_weights = {1.0f, 2.0f, 3.0f};
  t = Trainer::Create(o, data_, plain->get(), CheckpointInfo{});
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("TrainerOptions.class_weights: 3 weights for 2 classes"),
            std::string::npos) << t.status();
  o.class_weights = {1.0f, -1.0f};
  EXPECT_NE(ValidateTrainerOptions(o).message().find("TrainerOptions.class_weights=-1"), std::string::npos);
  o.class_weights = {1.0f, 1.0f};
  o.loss = "svm";
  EXPECT_NE(ValidateTrainerOptions(o).message().find("TrainerOptions.class_weights"),
            std::string::npos);
}

TEST_F(TrainerTest, EnsembleAveragesProbabilities) {
  std::vector<EvalResult> members;
  for (uint64_t seed : {7, 8}) {
    auto model = ModelFromSpec(kSpec, std::nullopt, 2, seed);
    ASSERT_TRUE(model.ok());
    EvalOptions eo;
    eo.keep_probabilities = true;
    auto r = Evaluate(**model, test_, data_.normalization, eo);
    ASSERT_TRUE(r.ok()) << r.status();
    members.push_back(std::move(r).value());
  }
  auto ens = EnsembleResult(members, test_);
  ASSERT_TRUE(ens.ok()) << ens.status();
  for (int64_t i = 0; i < ens->probabilities.size(); ++i) {
    EXPECT_FLOAT_EQ(ens->probabilities[i], 0.5f * (members[0].probabilities[i] +
                                                   members[1].probabilities[i]));
  }
  EXPECT_EQ(ens->confusion->total(), 64);
}

TEST_F(TrainerTest, SnapshotEnsembleSavesOneSnapshotPerSgdrCycle) {
  const std::string dir = TempDir("snapshots");
  TrainerOptions o = BaseOptions(dir);
  o.epochs = 4;
  o.schedule = "sgdr:t_0=2,per=epoch";  // restarts after epochs 2 and 4
  o.snapshots = true;
  TrainRun r = MakeRun(data_, o);
  ASSERT_TRUE(r.trainer->Run().ok());
  EXPECT_TRUE(std::filesystem::exists(dir + "/snapshot_1.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/snapshot_2.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/snapshot_3.safetensors"));
  std::vector<EvalResult> members;
  for (int k = 1; k <= 2; ++k) {
    auto ck = ReadCheckpoint(absl::StrCat(dir, "/snapshot_", k, ".safetensors"));
    ASSERT_TRUE(ck.ok()) << ck.status();
    auto m = ModelFromCheckpoint(*ck);
    ASSERT_TRUE(m.ok()) << m.status();
    EvalOptions eo;
    eo.keep_probabilities = true;
    auto ev = Evaluate(**m, test_, ck->info.normalization, eo);
    ASSERT_TRUE(ev.ok());
    members.push_back(std::move(ev).value());
  }
  auto ens = EnsembleResult(members, test_);
  ASSERT_TRUE(ens.ok()) << ens.status();
  EXPECT_GT(ens->accuracy, 0.85);
}

class CheckpointTest : public TrainerTest {
 protected:
  std::string SaveValid(const std::string& dir) {
    auto model = ModelFromSpec(kSpec, std::nullopt, 2, 7);
    EXPECT_TRUE(model.ok());
    CheckpointInfo info;
    info.model_spec = kSpec;
    info.input_shape = (*model)->InputShape();
    info.num_classes = 2;
    const std::string path = dir + "/c.safetensors";
    EXPECT_TRUE(SaveCheckpoint(path, **model, info, nullptr).ok());
    return path;
  }
  // Rewrites the checkpoint at `path` after `edit` changes its parsed contents.
  void Edit(const std::string& path, const std::function<void(SafetensorsContents&)>& edit) {
    auto c = LoadSafetensors(path);
    ASSERT_TRUE(c.ok());
    edit(*c);
    ASSERT_TRUE(SaveSafetensors(path, *c).ok());
  }
};

TEST_F(CheckpointTest, RejectsWrongFormatAndVersion) {
  const std::string path = SaveValid(TempDir("fmt"));
  Edit(path, [](SafetensorsContents& c) { c.metadata["format"] = "other"; });
  auto r = ReadCheckpoint(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'format'"), std::string::npos) << r.status();
  const std::string path2 = SaveValid(TempDir("ver"));
  Edit(path2, [](SafetensorsContents& c) { c.metadata["format_version"] = "99"; });
  r = ReadCheckpoint(path2);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("version '99'"), std::string::npos) << r.status();
}

TEST_F(CheckpointTest, RejectsBadMetadataJson) {
  const std::string path = SaveValid(TempDir("json"));
  Edit(path, [](SafetensorsContents& c) { c.metadata["class_names"] = "[\"a\", "; });
  auto r = ReadCheckpoint(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("class_names"), std::string::npos) << r.status();
}

TEST_F(CheckpointTest, RejectsMissingExtraAndMisshapenTensors) {
  const std::string dir = TempDir("tensors");
  const std::string path = SaveValid(dir);
  Edit(path, [](SafetensorsContents& c) { c.tensors.erase("6.weight"); });
  auto ck = ReadCheckpoint(path);
  ASSERT_TRUE(ck.ok()) << ck.status();
  auto m = ModelFromCheckpoint(*ck);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("'6.weight' of the model is missing"), std::string::npos)
      << m.status();

  const std::string path2 = SaveValid(TempDir("tensors2"));
  Edit(path2, [](SafetensorsContents& c) { c.tensors["6.weight"] = Tensor(Shape({2, 3})); });
  ck = ReadCheckpoint(path2);
  ASSERT_TRUE(ck.ok());
  m = ModelFromCheckpoint(*ck);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("has shape (2, 3)"), std::string::npos) << m.status();

  const std::string path3 = SaveValid(TempDir("tensors3"));
  Edit(path3, [](SafetensorsContents& c) { c.tensors["stray"] = Tensor(Shape({1})); });
  ck = ReadCheckpoint(path3);
  ASSERT_TRUE(ck.ok());
  m = ModelFromCheckpoint(*ck);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("'stray' does not belong"), std::string::npos)
      << m.status();
}

TEST_F(CheckpointTest, RefusesNonFiniteWeightsNamingTheTensor) {
  const std::string dir = TempDir("nonfinite");
  const std::string path = SaveValid(dir);
  Edit(path, [](SafetensorsContents& c) { c.tensors.at("0.weight")[5] = NAN; });
  auto ck = ReadCheckpoint(path);
  ASSERT_TRUE(ck.ok()) << ck.status();
  auto model = ModelFromCheckpoint(*ck);
  ASSERT_FALSE(model.ok());
  const std::string msg(model.status().message());
  EXPECT_NE(msg.find("'0.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("element 5"), std::string::npos) << msg;
  auto fresh = ModelFromSpec(kSpec, std::nullopt, 2, 7);
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(LoadModelState(*ck, **fresh).ok());
  EXPECT_TRUE(LoadModelState(*ck, **fresh, /*allow_non_finite=*/true).ok());
  ASSERT_EQ((*fresh)->Params()[0].name, "0.weight");
  EXPECT_TRUE(std::isnan((*fresh)->Params()[0].param->value[5]));
}

TEST_F(CheckpointTest, RejectsTruncatedFile) {
  const std::string path = SaveValid(TempDir("trunc"));
  auto bytes = ReadFile(path);
  ASSERT_TRUE(bytes.ok());
  for (size_t cut : {size_t{0}, size_t{5}, bytes->size() / 2, bytes->size() - 1}) {
    ASSERT_TRUE(WriteFileAtomically(path, bytes->substr(0, cut)).ok());
    auto r = ReadCheckpoint(path);
    EXPECT_FALSE(r.ok()) << "cut at " << cut;
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status();
  }
}

}  // namespace
}  // namespace simdnet
