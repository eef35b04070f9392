// Spec text of the torchvision classifiers, generated from the same configuration tables
// torchvision 0.14 uses (torchvision/models/{alexnet,vgg,resnet,mobilenetv2}.py), so the
// module tree and names match its state_dict key for key.
#include "layers/torchvision_specs.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace simdnet {
namespace {

constexpr int kMaxPool = -1;  // "M" in torchvision's VGG configurations

// AlexNet (Krizhevsky et al. 2012) in torchvision's single-GPU form (64/192/384/256/256).
std::string AlexNet() {
  return R"(# torchvision alexnet (Krizhevsky et al. 2012, torchvision's one-tower variant)
input 3x224x224
block features {
  conv 64 k11 s4 p2; relu; maxpool k3 s2
  conv 192 k5 p2; relu; maxpool k3 s2
  conv 384 k3 p1; relu
  conv 256 k3 p1; relu
  conv 256 k3 p1; relu; maxpool k3 s2
}
adaptive_avgpool 6x6 name=avgpool
flatten name=flatten
block classifier {
  dropout 0.5; linear 4096; relu
  dropout 0.5; linear 4096; relu
  linear classes
}
)";
}

// VGG (Simonyan & Zisserman 2015), configurations A (vgg11) and D (vgg16), optionally with
// BatchNorm after every convolution (torchvision's vgg*_bn).
std::string Vgg(const std::vector<int>& cfg, bool bn, absl::string_view name) {
  std::string features;
  for (int c : cfg) {
    if (c == kMaxPool) {
      absl::StrAppend(&features, "  maxpool k2 s2\n");
    } else {
      absl::StrAppend(&features, "  conv ", c, " k3 p1", bn ? "; bn" : "", "; relu\n");
    }
  }
  return absl::StrCat("# torchvision ", name, " (Simonyan & Zisserman 2015",
                      bn ? ", with BatchNorm" : "", ")\ninput 3x224x224\nblock features {\n",
                      features, "}\n",
                      "adaptive_avgpool 7x7 name=avgpool\nflatten name=flatten\n"
                      "block classifier {\n"
                      "  linear 4096; relu; dropout 0.5\n"
                      "  linear 4096; relu; dropout 0.5\n"
                      "  linear classes\n}\n");
}

// One ResNet block (torchvision BasicBlock / Bottleneck, v1.5: the stride on the 3x3 conv),
// named `index` in its stage, followed by its post-addition ReLU (a separate, parameter-free
// layer "<index>_relu": simdnet's Residual adds only).
std::string ResNetBlock(int index, int in, int planes, int stride, bool bottleneck) {
  const int expansion = bottleneck ? 4 : 1;
  const int out = planes * expansion;
  std::string main;
  if (bottleneck) {
    main = absl::StrCat(
        "    conv ", planes, " k1 nobias name=conv1; bn name=bn1; relu name=relu1\n",
        "    conv ", planes, " k3 s", stride, " p1 nobias name=conv2; bn name=bn2; relu name=relu2\n",
        "    conv ", out, " k1 nobias name=conv3; bn name=bn3\n");
  } else {
    main = absl::StrCat(
        "    conv ", planes, " k3 s", stride, " p1 nobias name=conv1; bn name=bn1; relu name=relu1\n",
        "    conv ", planes, " k3 p1 nobias name=conv2; bn name=bn2\n");
  }
  std::string block;
  if (stride != 1 || in != out) {
    absl::StrAppend(&block, "  residual name=", index, " {\n", main,
                    "  } shortcut downsample {\n    conv ", out, " k1 s", stride,
                    " nobias; bn\n  }\n");
  } else {
    absl::StrAppend(&block, "  residual name=", index, " {\n", main, "  }\n");
  }
  absl::StrAppend(&block, "  relu name=", index, "_relu\n");
  return block;
}

// ResNet (He et al., CVPR 2016) as torchvision builds it: 7x7 stem, 3x3 max pooling, four
// stages of `blocks[i]` blocks with 64, 128, 256, 512 planes, global average pooling, fc.
std::string ResNet(const std::vector<int>& blocks, bool bottleneck, absl::string_view name) {
  std::string out = absl::StrCat(
      "# torchvision ", name, " (He et al. 2016, ", bottleneck ? "bottleneck" : "basic",
      " blocks, stride on the 3x3 conv)\ninput 3x224x224\n"
      "conv 64 k7 s2 p3 nobias name=conv1\nbn name=bn1\nrelu name=relu\n"
      "maxpool k3 s2 p1 name=maxpool\n");
  int in = 64;
  const int expansion = bottleneck ? 4 : 1;
  for (int stage = 0; stage < 4; ++stage) {
    const int planes = 64 << stage;
    absl::StrAppend(&out, "block layer", stage + 1, " {\n");
    for (int b = 0; b < blocks[static_cast<size_t>(stage)]; ++b) {
      const int stride = (stage > 0 && b == 0) ? 2 : 1;
      absl::StrAppend(&out, ResNetBlock(b, in, planes, stride, bottleneck));
      in = planes * expansion;
    }
    absl::StrAppend(&out, "}\n");
  }
  absl::StrAppend(&out, "gap name=avgpool\nlinear classes name=fc\n");
  return out;
}

// MobileNetV2 (Sandler et al., CVPR 2018), width 1.0: the inverted-residual table (t, c, n, s)
// of torchvision's mobilenetv2.py; ReLU6 everywhere, linear bottlenecks, BN eps 1e-5.
std::string MobileNetV2() {
  struct Stage {
    int t, c, n, s;
  };
  const Stage stages[] = {{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                          {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};
  std::string f = "  block 0 { conv 32 k3 s2 p1 nobias; bn; relu6 }\n";
  int in = 32, index = 1;
  for (const Stage& st : stages) {
    for (int i = 0; i < st.n; ++i, ++index) {
      const int stride = i == 0 ? st.s : 1;
      const int hidden = in * st.t;
      std::string conv;  // torchvision's InvertedResidual.conv
      int k = 0;
      if (st.t != 1) {
        absl::StrAppend(&conv, "      block ", k++, " { conv ", hidden,
                        " k1 nobias; bn; relu6 }\n");
      }
      absl::StrAppend(&conv, "      block ", k++, " { conv ", hidden, " k3 s", stride, " p1 g",
                      hidden, " nobias; bn; relu6 }\n");
      absl::StrAppend(&conv, "      conv ", st.c, " k1 nobias\n      bn\n");
      const bool residual = stride == 1 && in == st.c;
      if (residual) {
        absl::StrAppend(&f, "  residual name=", index, " {\n    block conv {\n", conv,
                        "    }\n  }\n");
      } else {
        absl::StrAppend(&f, "  block ", index, " {\n    block conv {\n", conv, "    }\n  }\n");
      }
      in = st.c;
    }
  }
  absl::StrAppend(&f, "  block ", index, " { conv 1280 k1 nobias; bn; relu6 }\n");
  return absl::StrCat(
      "# torchvision mobilenet_v2 (Sandler et al. 2018, width 1.0)\ninput 3x224x224\n"
      "block features {\n",
      f, "}\ngap name=pool\nblock classifier { dropout 0.2; linear classes }\n");
}

}  // namespace

std::vector<std::string> TorchvisionArchNames() {
  return {"alexnet", "vgg11",    "vgg11_bn", "vgg16",       "vgg16_bn",
          "resnet18", "resnet34", "resnet50", "mobilenet_v2"};
}

bool IsTorchvisionArch(absl::string_view name) {
  for (const std::string& a : TorchvisionArchNames()) {
    if (a == name) return true;
  }
  return false;
}

absl::StatusOr<std::string> TorchvisionSpec(absl::string_view arch) {
  const std::vector<int> kVggA = {64, kMaxPool, 128, kMaxPool, 256, 256, kMaxPool,
                                  512, 512, kMaxPool, 512, 512, kMaxPool};
  const std::vector<int> kVggD = {64,  64,  kMaxPool, 128, 128, kMaxPool, 256,
                                  256, 256, kMaxPool, 512, 512, 512,      kMaxPool,
                                  512, 512, 512,      kMaxPool};
  if (arch == "alexnet") return AlexNet();
  if (arch == "vgg11") return Vgg(kVggA, false, arch);
  if (arch == "vgg11_bn") return Vgg(kVggA, true, arch);
  if (arch == "vgg16") return Vgg(kVggD, false, arch);
  if (arch == "vgg16_bn") return Vgg(kVggD, true, arch);
  if (arch == "resnet18") return ResNet({2, 2, 2, 2}, false, arch);
  if (arch == "resnet34") return ResNet({3, 4, 6, 3}, false, arch);
  if (arch == "resnet50") return ResNet({3, 4, 6, 3}, true, arch);
  if (arch == "mobilenet_v2") return MobileNetV2();
  return absl::NotFoundError(absl::StrCat("no torchvision architecture named '", arch,
                                          "' (architectures: ",
                                          absl::StrJoin(TorchvisionArchNames(), ", "), ")"));
}

}  // namespace simdnet
