// Tests for the augmentation steps (geometric and colour properties against hand-computed
// expectations), determinism in the Rng, and the spec parser.
#include "data/augment.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/rng.h"

namespace simdnet {
namespace {

using ::testing::HasSubstr;

std::vector<float> Ramp(const ImageDims& d) {
  std::vector<float> v(static_cast<size_t>(d.size()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 13) % 97) / 96.0f;
  return v;
}

std::vector<float> ApplyStep(const Augmentation& step, const ImageDims& d, std::vector<float> img,
                       uint64_t seed) {
  std::vector<float> scratch(img.size());
  Rng rng(seed);
  step.Apply(d, rng, img.data(), scratch.data());
  return img;
}

TEST(AugmentTest, FlipWithProbabilityOneMirrorsRows) {
  const ImageDims d{2, 3, 5};
  const std::vector<float> in = Ramp(d);
  const std::vector<float> out = ApplyStep(*MakeHorizontalFlip(1.0f), d, in, 1);
  for (int64_t c = 0; c < 2; ++c) {
    for (int64_t y = 0; y < 3; ++y) {
      for (int64_t x = 0; x < 5; ++x) {
        EXPECT_EQ(out[(c * 3 + y) * 5 + x], in[(c * 3 + y) * 5 + (4 - x)]);
      }
    }
  }
  EXPECT_EQ(ApplyStep(*MakeHorizontalFlip(0.0f), d, in, 1), in);
}

TEST(AugmentTest, FlipHalfTheTime) {
  const ImageDims d{1, 1, 2};
  int flipped = 0;
  for (uint64_t s = 0; s < 2000; ++s) flipped += ApplyStep(*MakeHorizontalFlip(0.5f), d, {0.f, 1.f}, s)[0] == 1.f;
  EXPECT_NEAR(flipped, 1000, 100);
}

// Returns true if out(c, y, x) == in(c, y + dy, x + dx), with 0 outside the source.
bool IsShift(const std::vector<float>& in, const std::vector<float>& out, const ImageDims& d,
             int64_t dy, int64_t dx) {
  for (int64_t c = 0; c < d.channels; ++c) {
    for (int64_t y = 0; y < d.height; ++y) {
      for (int64_t x = 0; x < d.width; ++x) {
        const int64_t sy = y + dy, sx = x + dx;
        const bool inside = sy >= 0 && sy < d.height && sx >= 0 && sx < d.width;
        const float want = inside ? in[(c * d.height + sy) * d.width + sx] : 0.0f;
        if (out[(c * d.height + y) * d.width + x] != want) return false;
      }
    }
  }
  return true;
}

TEST(AugmentTest, RandomCropIsAShiftWithZeroFill) {
  const ImageDims d{3, 8, 8};
  std::vector<float> in = Ramp(d);
  for (float& v : in) v += 1.0f;  // every source pixel non-zero, so padding is recognisable
  std::vector<int> seen(25, 0);
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const std::vector<float> out = ApplyStep(*MakeRandomCrop(2), d, in, seed);
    int matches = 0;
    for (int64_t dy = -2; dy <= 2; ++dy) {
      for (int64_t dx = -2; dx <= 2; ++dx) {
        if (IsShift(in, out, d, dy, dx)) {
          ++matches;
          ++seen[(dy + 2) * 5 + dx + 2];
        }
      }
    }
    ASSERT_EQ(matches, 1) << "seed " << seed << ": not a shifted, zero-filled copy";
  }
  for (int k = 0; k < 25; ++k) EXPECT_GT(seen[k], 0) << "offset " << k << " never drawn";
  EXPECT_EQ(ApplyStep(*MakeRandomCrop(0), d, in, 3), in);
}

TEST(AugmentTest, ResizedCropOfWholeSquareImageIsIdentity) {
  const ImageDims d{2, 6, 6};
  const std::vector<float> in = Ramp(d);
  const std::vector<float> out = ApplyStep(*MakeRandomResizedCrop(1.0f, 1.0f, 1.0f, 1.0f), d, in, 5);
  for (size_t i = 0; i < in.size(); ++i) EXPECT_NEAR(out[i], in[i], 1e-6) << i;
}

TEST(AugmentTest, ResizedCropOfConstantImageIsConstant) {
  const ImageDims d{3, 9, 13};
  const std::vector<float> in(static_cast<size_t>(d.size()), 0.375f);
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const std::vector<float> out = ApplyStep(*MakeRandomResizedCrop(0.08f, 1.0f, 0.75f, 1.333f), d, in, seed);
    for (float v : out) ASSERT_NEAR(v, 0.375f, 1e-6);
  }
}

TEST(AugmentTest, ResizedCropUpsamplesASubWindow) {
  // A horizontal ramp stays monotone non-decreasing in x after any crop and upsampling.
  const ImageDims d{1, 8, 16};
  std::vector<float> in(128);
  for (int64_t y = 0; y < 8; ++y) {
    for (int64_t x = 0; x < 16; ++x) in[y * 16 + x] = static_cast<float>(x) / 15.0f;
  }
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const std::vector<float> out = ApplyStep(*MakeRandomResizedCrop(0.1f, 0.5f, 0.5f, 2.0f), d, in, seed);
    for (int64_t y = 0; y < 8; ++y) {
      for (int64_t x = 1; x < 16; ++x) ASSERT_GE(out[y * 16 + x] + 1e-6f, out[y * 16 + x - 1]);
    }
    EXPECT_LT(out[15] - out[0], 1.0f);  // a strict sub-window: the full range is not covered
  }
}

TEST(AugmentTest, RotationByZeroDegreesIsIdentity) {
  const ImageDims d{3, 7, 9};
  const std::vector<float> in = Ramp(d);
  EXPECT_EQ(ApplyStep(*MakeRotation(0.0f), d, in, 1), in);
}

TEST(AugmentTest, RotationKeepsCentreAndZeroesCorners) {
  const ImageDims d{1, 9, 9};
  const std::vector<float> in(81, 1.0f);
  bool saw_zero_corner = false;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const std::vector<float> out = ApplyStep(*MakeRotation(45.0f), d, in, seed);
    EXPECT_NEAR(out[4 * 9 + 4], 1.0f, 1e-6);  // the centre maps to itself
    for (float v : out) {
      ASSERT_GE(v, -1e-6f);
      ASSERT_LE(v, 1.0f + 1e-6f);
    }
    saw_zero_corner |= out[0] < 0.5f;
  }
  EXPECT_TRUE(saw_zero_corner);
}

TEST(AugmentTest, RotationLeavesRadiallySymmetricImagesUnchanged) {
  // A Gaussian blob centred on the image is invariant under any rotation about the centre, so
  // this checks the centre, the inverse mapping and the bilinear weights together.
  const ImageDims d{1, 21, 21};
  std::vector<float> in(441);
  for (int y = 0; y < 21; ++y) {
    for (int x = 0; x < 21; ++x) {
      const float r2 = static_cast<float>((y - 10) * (y - 10) + (x - 10) * (x - 10));
      in[y * 21 + x] = std::exp(-r2 / 18.0f);
    }
  }
  for (uint64_t seed = 0; seed < 8; ++seed) {
    const std::vector<float> out = ApplyStep(*MakeRotation(180.0f), d, in, seed);
    for (int k = 0; k < 441; ++k) ASSERT_NEAR(out[k], in[k], 0.03f) << "seed " << seed << " k " << k;
  }
}

TEST(AugmentTest, RotationMovesAnOffCentreSpotAlongItsCircle) {
  const ImageDims d{1, 21, 21};
  std::vector<float> in(441, 0.0f);
  in[10 * 21 + 16] = 1.0f;  // 6 pixels right of the centre
  bool moved = false;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    const std::vector<float> out = ApplyStep(*MakeRotation(90.0f), d, in, seed);
    double mass = 0, cy = 0, cx = 0;
    for (int y = 0; y < 21; ++y) {
      for (int x = 0; x < 21; ++x) {
        mass += out[y * 21 + x];
        cy += out[y * 21 + x] * y;
        cx += out[y * 21 + x] * x;
      }
    }
    ASSERT_GT(mass, 0.5);
    cy /= mass;
    cx /= mass;
    EXPECT_NEAR(std::hypot(cy - 10.0, cx - 10.0), 6.0, 0.35) << "seed " << seed;
    EXPECT_GE(cx, 10.0 - 1e-6);  // |angle| <= 90 keeps the spot in the right half
    moved |= std::abs(cy - 10.0) > 1.0;
  }
  EXPECT_TRUE(moved);
}

TEST(AugmentTest, ColorJitterWithZeroRangesIsIdentity) {
  const ImageDims d{3, 4, 5};
  const std::vector<float> in = Ramp(d);
  const std::vector<float> out = ApplyStep(*MakeColorJitter(0, 0, 0, 0), d, in, 3);
  for (size_t i = 0; i < in.size(); ++i) EXPECT_NEAR(out[i], in[i], 1e-6);
}

TEST(AugmentTest, BrightnessScalesAllChannelsByOneFactor) {
  const ImageDims d{3, 2, 2};
  const std::vector<float> in = {0.1f, 0.2f, 0.3f, 0.4f, 0.2f, 0.2f,
                                 0.2f, 0.2f, 0.05f, 0.1f, 0.15f, 0.2f};
  const std::vector<float> out = ApplyStep(*MakeColorJitter(0.5f, 0, 0, 0), d, in, 11);
  const float f = out[0] / in[0];
  EXPECT_GE(f, 0.5f);
  EXPECT_LE(f, 1.5f);
  for (size_t i = 0; i < in.size(); ++i) EXPECT_NEAR(out[i], std::min(1.0f, in[i] * f), 1e-5);
}

TEST(AugmentTest, SaturationAndHueLeaveGreyPixelsGrey) {
  const ImageDims d{3, 3, 3};
  std::vector<float> in(27);
  for (int p = 0; p < 9; ++p) in[p] = in[9 + p] = in[18 + p] = 0.1f * static_cast<float>(p);
  for (uint64_t seed = 0; seed < 5; ++seed) {
    const std::vector<float> out = ApplyStep(*MakeColorJitter(0, 0, 1.0f, 0.5f), d, in, seed);
    for (int p = 0; p < 9; ++p) {
      EXPECT_NEAR(out[p], in[p], 2e-3);
      EXPECT_NEAR(out[9 + p], in[p], 2e-3);
      EXPECT_NEAR(out[18 + p], in[p], 2e-3);
    }
  }
}

TEST(AugmentTest, ContrastPreservesMeanOfGrayImages) {
  // Values in [0.3, 0.7] stay inside [0, 1] for contrast factors in [0.5, 1.5]: no clamping, so
  // the mean is preserved exactly (up to float rounding) while the spread changes.
  const ImageDims d{1, 4, 4};
  std::vector<float> in(16);
  for (int k = 0; k < 16; ++k) in[k] = 0.3f + 0.4f * static_cast<float>(k) / 15.0f;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    const std::vector<float> out = ApplyStep(*MakeColorJitter(0, 0.5f, 0, 0), d, in, seed);
    double mean_in = 0, mean_out = 0;
    for (int k = 0; k < 16; ++k) {
      mean_in += in[k] / 16.0;
      mean_out += out[k] / 16.0;
    }
    EXPECT_NEAR(mean_out, mean_in, 1e-5);
    const float factor = (out[15] - out[0]) / (in[15] - in[0]);
    EXPECT_GE(factor, 0.5f - 1e-4f);
    EXPECT_LE(factor, 1.5f + 1e-4f);
  }
}

TEST(AugmentTest, CutoutZeroesABoundedSquare) {
  const ImageDims d{2, 10, 10};
  const std::vector<float> in(200, 1.0f);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const std::vector<float> out = ApplyStep(*MakeCutout(4, 1.0f), d, in, seed);
    int zeros = 0;
    for (float v : out) zeros += v == 0.0f;
    EXPECT_GT(zeros, 0);
    EXPECT_LE(zeros, 2 * 16);
    EXPECT_EQ(zeros % 2, 0);  // the same square in both channels
  }
  EXPECT_EQ(ApplyStep(*MakeCutout(4, 0.0f), d, in, 1), in);
}

TEST(AugmenterTest, SameRngGivesSameResultAndDifferentSamplesDiffer) {
  auto aug = ParseAugmentSpec("hflip,crop=2,rrc,rotate=10,jitter=0.3:0.3:0.3:0.05,cutout=3:0.5");
  ASSERT_TRUE(aug.ok()) << aug.status();
  EXPECT_EQ(aug->num_steps(), 6u);
  const ImageDims d{3, 12, 12};
  const std::vector<float> in = Ramp(d);
  std::vector<float> a = in, b = in, c = in, scratch(in.size());
  Rng ra = SampleRng(7, 2, 41), rb = SampleRng(7, 2, 41), rc = SampleRng(7, 2, 42);
  aug->Apply(d, ra, a.data(), scratch.data());
  aug->Apply(d, rb, b.data(), scratch.data());
  aug->Apply(d, rc, c.data(), scratch.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (float v : a) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LE(v, 1.0f);
  }
}

TEST(AugmenterTest, SpecRoundTrips) {
  auto aug = ParseAugmentSpec(" hflip=0.25 , crop=4,rrc=0.5:1:0.8:1.25,rotate=15,jitter=0.1:0.2:0.3:0.1,cutout=8:0.5");
  ASSERT_TRUE(aug.ok()) << aug.status();
  const std::string spec = aug->Spec();
  EXPECT_EQ(spec, "hflip=0.25,crop=4,rrc=0.5:1:0.8:1.25,rotate=15,jitter=0.1:0.2:0.3:0.1,cutout=8:0.5");
  auto again = ParseAugmentSpec(spec);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->Spec(), spec);
  EXPECT_TRUE(ParseAugmentSpec("")->empty());
}

TEST(AugmenterTest, SpecRejectsBadTokens) {
  struct Case {
    const char* spec;
    const char* expect;
  } cases[] = {
      {"blur=3", "unknown step 'blur'"},
      {"hflip=2", "hflip=2"},
      {"crop", "crop"},
      {"crop=1.5", "integer"},
      {"crop=x", "bad number 'x'"},
      {"rrc=0.5:0.2:1:1", "scale range"},
      {"rrc=0.5:1", "smin:smax:rmin:rmax"},
      {"rotate=500", "degrees"},
      {"jitter=0.1:0.1:0.1", "jitter=0.1:0.1:0.1"},
      {"jitter=0.1:0.1:0.1:0.9", "hue"},
      {"cutout=0", "size"},
      {"rotate=nan", "bad number"},
  };
  for (const Case& c : cases) {
    auto r = ParseAugmentSpec(c.spec);
    ASSERT_FALSE(r.ok()) << c.spec;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.expect)) << c.spec;
  }
}

}  // namespace
}  // namespace simdnet
