// augment_grid: writes a PNG grid of augmented samples (one row per sample: the original, then
// one augmented variant per epoch) to check an augmentation spec by eye.
//
//   bazel run -c opt //data:augment_grid -- --source=fashion --augment="hflip,crop=3,rotate=15"
//       --out=/tmp/grid.png
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "data/augment.h"
#include "data/cifar.h"
#include "data/file_util.h"
#include "data/grid.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "tensor/image.h"
#include "tensor/status_macros.h"

ABSL_FLAG(std::string, source, "fashion",
          "data set kind: fashion (or mnist: IDX files), cifar10, cifar100, folder");
ABSL_FLAG(std::string, path, "",
          "data set directory (default for fashion: /usr/share/datasets/fashion-mnist)");
ABSL_FLAG(std::string, augment, "hflip,crop=3,rotate=15,jitter=0.4:0.4:0.4:0.1,cutout=8:0.5",
          "augmentation spec (see data/augment.h ParseAugmentSpec)");
ABSL_FLAG(std::string, out, "augment_grid.png", "output PNG path (written atomically)");
ABSL_FLAG(int64_t, rows, 6, "samples (rows)");
ABSL_FLAG(int64_t, cols, 8, "columns: the original plus cols-1 augmented variants");
ABSL_FLAG(int64_t, first, 0, "index of the first sample");
ABSL_FLAG(int64_t, scale, 4, "nearest-neighbour upscaling");
ABSL_FLAG(uint64_t, seed, 1, "augmentation seed");
ABSL_FLAG(int64_t, size, 64, "folder images: resize to size x size");

namespace simdnet {
namespace {

absl::StatusOr<std::unique_ptr<SampleSource>> OpenSource(const std::string& kind,
                                                         const std::string& path) {
  if (kind == "fashion" || kind == "mnist") {
    SIMDNET_ASSIGN_OR_RETURN(InMemoryDataset d,
                             LoadMnistStyle(path, Split::kTest,
                                            kind == "fashion" ? FashionMnistClassNames()
                                                              : MnistClassNames()));
    return std::unique_ptr<SampleSource>(new InMemoryDataset(std::move(d)));
  }
  if (kind == "cifar10" || kind == "cifar100") {
    SIMDNET_ASSIGN_OR_RETURN(
        InMemoryDataset d,
        LoadCifar(path, kind == "cifar10" ? CifarKind::kCifar10 : CifarKind::kCifar100Fine,
                  Split::kTest));
    return std::unique_ptr<SampleSource>(new InMemoryDataset(std::move(d)));
  }
  if (kind == "folder") {
    ImageFolderOptions opt;
    opt.height = opt.width = absl::GetFlag(FLAGS_size);
    SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<ImageFolderSource> src,
                             ImageFolderSource::Create(path, opt));
    return std::unique_ptr<SampleSource>(std::move(src));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--source: unknown kind '", kind, "' (fashion, mnist, cifar10, cifar100, folder)"));
}

absl::Status Run() {
  SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<SampleSource> source,
                           OpenSource(absl::GetFlag(FLAGS_source), absl::GetFlag(FLAGS_path)));
  SIMDNET_ASSIGN_OR_RETURN(Augmenter augment, ParseAugmentSpec(absl::GetFlag(FLAGS_augment)));
  GridOptions opt;
  opt.rows = absl::GetFlag(FLAGS_rows);
  opt.cols = absl::GetFlag(FLAGS_cols);
  opt.first_sample = absl::GetFlag(FLAGS_first);
  opt.scale = absl::GetFlag(FLAGS_scale);
  opt.seed = absl::GetFlag(FLAGS_seed);
  SIMDNET_ASSIGN_OR_RETURN(Image grid, RenderAugmentGrid(*source, augment, opt));
  SIMDNET_RETURN_IF_ERROR(WritePng(absl::GetFlag(FLAGS_out), grid));
  std::printf("wrote %s: %lld x %lld, %lld samples x %lld columns, augment \"%s\"\n",
              absl::GetFlag(FLAGS_out).c_str(), static_cast<long long>(grid.width),
              static_cast<long long>(grid.height), static_cast<long long>(opt.rows),
              static_cast<long long>(opt.cols), augment.Spec().c_str());
  return absl::OkStatus();
}

}  // namespace
}  // namespace simdnet

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Writes a PNG grid of augmented samples.");
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = simdnet::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "augment_grid: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
