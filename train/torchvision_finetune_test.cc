// The "1000 classes to 2" workflow end to end on a tiny generated two-class image folder:
// a MobileNetV2 state_dict file (hash-seeded, as tools/interop/torchvision_export.py writes it)
// is fine-tuned through RunFinetune (--checkpoint / --weights path): the 1000-way head becomes
// 2-way, the features stay frozen, accuracy is reported before and after, and the result is a
// simdnet checkpoint that keeps torchvision's names and ImageNet normalization.
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "data/imagenet_classes.h"
#include "data/test_fixtures.h"
#include "gtest/gtest.h"
#include "layers/model_spec.h"
#include "train/checkpoint.h"
#include "train/commands.h"
#include "train/hash_weights.h"
#include "train/safetensors.h"
#include "train/torch_checkpoint.h"

namespace simdnet {
namespace {

// Writes root/{train,test}/{dog,food}/*.png: "dog" images are bright on the left, "food" on
// the right (a difference a linear head on frozen features can pick up), 40x48 pixels so the
// loader resizes them to 224x224.
void WriteTwoClassFolder(const std::string& root) {
  for (const char* split : {"train", "test"}) {
    for (int cls = 0; cls < 2; ++cls) {
      const std::string dir = root + "/" + split + "/" + (cls == 0 ? "dog" : "food");
      std::filesystem::create_directories(dir);
      for (int i = 0; i < 4; ++i) {
        const int w = 48, h = 40;
        std::vector<uint8_t> px = test::MakePattern(w, h, 3, i + 10 * cls + (split[1] == 'e' ? 100 : 0));
        for (int y = 0; y < h; ++y) {
          for (int x = 0; x < w; ++x) {
            const bool bright = cls == 0 ? x < w / 2 : x >= w / 2;
            for (int c = 0; c < 3; ++c) {
              uint8_t& v = px[static_cast<size_t>((y * w + x) * 3 + c)];
              v = static_cast<uint8_t>(bright ? 200 + v % 56 : v % 56);
            }
          }
        }
        test::WriteFile(dir + "/" + std::to_string(i) + ".png", test::EncodePng(px, w, h, 3));
      }
    }
  }
}

// Writes a hash-seeded MobileNetV2 state_dict file (as tools/interop/torchvision_export.py
// does) to `path`, and its tensors to *sd.
void WriteHashSeededMobileNetV2(const std::string& path, SafetensorsContents* sd) {
  auto model = LoadModel("mobilenet_v2", std::nullopt, 1000, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  FillModelHashSeeded(**model);
  for (NamedParameter& p : (*model)->Params()) sd->tensors[p.name] = p.param->value;
  for (NamedBuffer& b : (*model)->Buffers()) sd->tensors[b.name] = *b.value;
  sd->metadata["format"] = kTorchStateDictFormat;
  sd->metadata["arch"] = "mobilenet_v2";
  ASSERT_TRUE(SaveSafetensors(path, *sd).ok());
}

// The workspace both tests start from: a fresh temporary directory `root` holding the two-class
// folder (root/data) and a hash-seeded MobileNetV2 state_dict (`weights`, its tensors in *sd).
struct Workspace {
  std::string root;
  std::string weights;
  SafetensorsContents sd;
};
void MakeWorkspace(const char* name, Workspace* ws) {
  ws->root = test::TempDir(name);
  WriteTwoClassFolder(ws->root + "/data");
  ws->weights = ws->root + "/mobilenet_v2.safetensors";
  ASSERT_NO_FATAL_FAILURE(WriteHashSeededMobileNetV2(ws->weights, &ws->sd));
}

TEST(TorchvisionFinetuneTest, MobileNetV2FromAStateDictToATwoClassHead) {
  // The state_dict file: hash-seeded MobileNetV2 under torchvision's names.
  Workspace ws;
  ASSERT_NO_FATAL_FAILURE(MakeWorkspace("tv_finetune", &ws));
  const std::string& root = ws.root;
  const std::string& weights = ws.weights;
  const SafetensorsContents& sd = ws.sd;

  FinetuneOptions o;
  o.checkpoint = weights;
  o.freeze = "features";
  o.compare_scratch = false;
  o.train.write_report = false;
  o.train.data.dataset = "folder";
  o.train.data.data_dir = root + "/data";  // read at the model's 224x224, resize + centre crop
  o.train.trainer.epochs = 2;
  o.train.trainer.batch_size = 4;
  o.train.trainer.optimizer = "sgd:lr=0.05,momentum=0.9";
  o.train.trainer.run_dir = root + "/run";
  o.train.trainer.progress = false;
  auto result = RunFinetune(o);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GE(result->before_accuracy, 0.0);
  EXPECT_LE(result->after_accuracy, 1.0);
  std::cout << "accuracy before " << result->before_accuracy << ", after "
            << result->after_accuracy << "\n";

  auto ck = ReadCheckpoint(root + "/run/checkpoint.safetensors");
  ASSERT_TRUE(ck.ok()) << ck.status();
  EXPECT_EQ(ck->info.num_classes, 2);
  EXPECT_EQ(ck->info.class_names, (std::vector<std::string>{"dog", "food"}));
  EXPECT_EQ(ck->info.normalization.kind, Normalization::Kind::kPerChannel);
  EXPECT_EQ(ck->info.extra.at("preprocess"), "imagenet");  // eval / predict crop as torchvision
  ASSERT_TRUE(ck->contents.tensors.count("classifier.1.weight"));
  EXPECT_EQ(ck->contents.tensors.at("classifier.1.weight").shape(), Shape({2, 1280}));
  // The frozen backbone is unchanged: the first convolution equals the imported weights.
  const Tensor& conv = ck->contents.tensors.at("features.0.0.weight");
  const Tensor& imported = sd.tensors.at("features.0.0.weight");
  for (int64_t i = 0; i < conv.size(); ++i) ASSERT_EQ(conv[i], imported[i]) << i;
}

// The other way from 1000 classes to 2: no training, the 1000-way model's probabilities summed
// over ImageNet's dog classes and food classes, scored against the folders named after the groups.
TEST(TorchvisionFinetuneTest, ClassGroupsTurnTheImageNetModelIntoATwoClassOne) {
  Workspace ws;
  ASSERT_NO_FATAL_FAILURE(MakeWorkspace("tv_groups", &ws));
  const std::string& root = ws.root;
  const std::string& weights = ws.weights;

  DataOptions d;
  d.dataset = "folder";
  d.data_dir = root + "/data";  // the size comes from the checkpoint (224), not from d
  testing::internal::CaptureStdout();
  auto r = RunEval({weights}, d, 4, "dog:151-268,food:924-969");
  const std::string out = testing::internal::GetCapturedStdout();
  ASSERT_TRUE(r.ok()) << r.status();
  // 8 test images, every one scored, with the confusion rows summing to each folder's 4.
  EXPECT_NE(out.find("grouped (dog / food): accuracy"), std::string::npos) << out;
  EXPECT_NE(out.find(" of 8 images)"), std::string::npos) << out;
  int64_t dog_row = 0, food_row = 0, a = 0, b = 0;
  ASSERT_EQ(sscanf(out.substr(out.find("true dog")).c_str(),
                   "true dog predicted: dog %ld food %ld", &a, &b), 2) << out;
  dog_row = a + b;
  ASSERT_EQ(sscanf(out.substr(out.find("true food")).c_str(),
                   "true food predicted: dog %ld food %ld", &a, &b), 2) << out;
  food_row = a + b;
  EXPECT_EQ(dog_row, 4);
  EXPECT_EQ(food_row, 4);
  // Groups that do not name the folders, and classes outside the model: clear errors.
  testing::internal::CaptureStdout();
  auto wrong = RunEval({weights}, d, 4, "dog:151-268,cat:281-285");
  testing::internal::GetCapturedStdout();
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("data class 'food' is not a class group"),
            std::string::npos) << wrong.status();
  testing::internal::CaptureStdout();
  auto outside = RunEval({weights}, d, 4, "dog:151-268,food:924-1000");
  testing::internal::GetCapturedStdout();
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("not within [0, 999]"), std::string::npos)
      << outside.status();
  // predict: the group probabilities of one image sum the classes' probabilities.
  auto preds = RunPredict(weights, {root + "/data/test/dog/0.png"}, 1000,
                          "dog:151-268,food:924-969");
  ASSERT_TRUE(preds.ok()) << preds.status();
  ASSERT_EQ((*preds)[0].groups.size(), 2u);
  const std::vector<std::string> names = ImageNetClassNames();
  const std::set<std::string> dogs(names.begin() + 151, names.begin() + 269);
  double dog = 0.0;
  for (const auto& [name, prob] : (*preds)[0].top) dog += dogs.count(name) ? prob : 0.0;
  EXPECT_NEAR((*preds)[0].groups[0].second, dog, 1e-5);
}

}  // namespace
}  // namespace simdnet
