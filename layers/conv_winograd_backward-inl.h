// Per-target Winograd backward passes: backward-data at stride 2 (the adjoint of the forward;
// stride 1 runs as the flipped forward) and the weight gradient at stride 1 and 2.

// Non-SIMD part: included once per translation unit.
#ifndef SIMDNET_LAYERS_CONV_WINOGRAD_BACKWARD_INL_H_
#define SIMDNET_LAYERS_CONV_WINOGRAD_BACKWARD_INL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>

#endif  // SIMDNET_LAYERS_CONV_WINOGRAD_BACKWARD_INL_H_

#if defined(SIMDNET_LAYERS_CONV_WINOGRAD_BACKWARD_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_LAYERS_CONV_WINOGRAD_BACKWARD_TOGGLE
#undef SIMDNET_LAYERS_CONV_WINOGRAD_BACKWARD_TOGGLE
#else
#define SIMDNET_LAYERS_CONV_WINOGRAD_BACKWARD_TOGGLE
#endif

#include "hwy/highway.h"
#include "layers/conv_winograd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Winograd<2> backward-data for 3x3 stride-2 kernels with no dilation: the adjoint of the
// forward, dX_tile,c = B [ sum_k U_kc .* (A^T-adjoint dY_tile,k) ] B^T, i.e. per 2x2 tile of
// dy the 25 points dM = A dY A^T, 25 GEMMs E_xi (cg x tiles) = U_xi^T (cg x kg) * dM_xi, and
// 5x5 input patches B E B^T that overlap their neighbours by one row and one column and are
// summed into a zero-padded plane per input channel, then cropped into dx: 25 multiplies per
// tile instead of 36 and no column buffer. Tasks are (image, group, input-channel chunk);
// chunks own disjoint dx planes and walk their image's tiles in order.
inline void ConvBackwardDataWinogradStride2(const Conv2dShape& s, const float* dy,
                                            const float* w, float* dx, ThreadPool& pool) {
  using W = Winograd<2>;
  constexpr size_t kP = W::kP, kPoints = W::kPoints, kStep = W::kStep;
  const detail::ConvGeom geo(s);
  const GemmD d;
  using V = hn::Vec<GemmD>;
  const size_t N = hn::Lanes(d);
  const size_t NR = GemmNR(), KC = GemmKC(), MC = GemmMC();
  const size_t cg = geo.cg, kg = geo.kg;
  const size_t tiles_h = detail::DivCeil(geo.oh, 2), tiles_w = detail::DivCeil(geo.ow, 2);
  const size_t tiles = tiles_h * tiles_w;
  const size_t rcg = detail::RoundUp(cg, kGemmMR);
  const bool parallel = detail::ConvParallel(s, pool);
  const size_t wstride = WinogradWeightStride(cg, kg);
  float* wpack = ConvScratch(ConvSlot::kWeights, s.groups * kPoints * wstride);
  WinogradPackWeights<2>(s, w, true, wpack, pool, parallel);
  const size_t chunks = detail::UnitChunks(s, pool, parallel, rcg / kGemmMR);
  // Tiles per step: dM and E (kPoints x (kg + cg) x NT floats) within about 1 MiB (L2).
  const size_t NT = detail::RoundUp(
      std::min(kMaxWinogradChunk, std::max(NR, (size_t{1} << 18) / (kPoints * (cg + kg)))), NR);
  // The zero-padded dx planes: the patches cover padded rows and columns [0, 4 * tiles + 1).
  const size_t ph = kStep * tiles_h + 1, pw = kStep * tiles_w + 1;
  const size_t pstride = PhasedLayout::ChannelStride(ph * pw);
  detail::RunUnitChunks(s, pool, parallel, chunks, [&](size_t n, size_t g, size_t chunk) {
    // Input channels [c0, c1): whole kGemmMR strips of the packed U^T.
    const size_t strips = rcg / kGemmMR;
    const size_t c0 = strips * chunk / chunks * kGemmMR;
    const size_t c1 = std::min(cg, strips * (chunk + 1) / chunks * kGemmMR);
    if (c1 <= c0) return;
    const size_t cc = c1 - c0;
    const size_t dstride = PhasedLayout::ChannelStride(kg * NT);
    const size_t estride = PhasedLayout::ChannelStride(cc * NT);
    float* dmb = ConvScratch(ConvSlot::kPackB, kPoints * dstride);
    float* ebuf = ConvScratch(ConvSlot::kAcc, kPoints * estride);
    float* planes = ConvScratch(ConvSlot::kPlanes, cc * pstride + N);
    std::fill(planes, planes + cc * pstride + N, 0.0f);
    // Staging rows: 2 for dy (2 floats per tile), kP for the patch rows (4 per tile), kP for
    // the patches' column 4 and one for the run-continuation flags.
    const size_t rl = kStep * NT + 2 * N;
    float* rows = ConvScratch(ConvSlot::kRows, (3 + 2 * kP) * rl);
    const float* dyg = dy + (n * s.out_channels + g * kg) * geo.p;
    struct Run {
      size_t j, tr, tc0, cnt;
    };
    Run runs[kMaxWinogradChunk];
    for (size_t t0 = 0; t0 < tiles; t0 += NT) {
      const size_t nt = std::min(NT, tiles - t0), ntr = detail::RoundUp(nt, NR);
      size_t num_runs = 0;
      for (size_t t = t0; t < t0 + nt;) {
        const size_t tr = t / tiles_w, tc0 = t % tiles_w;
        const size_t cnt = std::min(tiles_w - tc0, t0 + nt - t);
        runs[num_runs++] = {t - t0, tr, tc0, cnt};
        t += cnt;
      }
      // dM = A dY A^T per output channel, N tiles at a time, into PackB strips per point.
      float* top = rows;
      float* bottom = rows + rl;
      for (size_t k = 0; k < kg; ++k) {
        const float* HWY_RESTRICT yk = dyg + k * geo.p;
        for (size_t r = 0; r < num_runs; ++r) {
          const Run& run = runs[r];
          // The run's dy, zeros past out_w (odd out_w: the last tile's right column) and below
          // out_h.
          const size_t len = std::min(2 * run.cnt, geo.ow - 2 * run.tc0);
          const size_t oh = 2 * run.tr;
          float* HWY_RESTRICT t = top + 2 * run.j;
          float* HWY_RESTRICT b = bottom + 2 * run.j;
          CopyRow(yk + oh * geo.ow + 2 * run.tc0, len, t);
          std::fill(t + len, t + 2 * run.cnt, 0.0f);
          if (oh + 1 < geo.oh) {
            CopyRow(yk + (oh + 1) * geo.ow + 2 * run.tc0, len, b);
            std::fill(b + len, b + 2 * run.cnt, 0.0f);
          } else {
            std::fill(b, b + 2 * run.cnt, 0.0f);
          }
        }
        std::fill(top + 2 * nt, top + 2 * ntr, 0.0f);
        std::fill(bottom + 2 * nt, bottom + 2 * ntr, 0.0f);
        const size_t pc = k / KC * KC, kcb = std::min(KC, kg - pc);
        for (size_t j = 0; j < ntr; j += N) {
          V a, b, c, e;
          hn::LoadInterleaved2(d, top + 2 * j, a, b);
          hn::LoadInterleaved2(d, bottom + 2 * j, c, e);
          W::OutputAdjoint2D(d, a, b, c, e,
                             dmb + pc * ntr + (j / NR) * NR * kcb + (k - pc) * NR + j % NR,
                             dstride);
        }
      }
      // E_xi = U_xi^T dM_xi for this task's input channels.
      for (size_t xi = 0; xi < kPoints; ++xi) {
        const float* ua = wpack + (g * kPoints + xi) * wstride;
        for (size_t pc = 0; pc < kg; pc += KC) {
          const size_t kc = std::min(KC, kg - pc);
          const TileEpilogue ep{pc == 0 ? 0.0f : 1.0f, nullptr, false};
          for (size_t ic = 0; ic < cc; ic += MC) {
            const size_t mc = std::min(MC, cc - ic);
            MacroKernel(mc, nt, kc, ua + pc * rcg + (c0 + ic) * kc,
                        dmb + xi * dstride + pc * ntr, ebuf + xi * estride + ic * ntr, ntr, ep);
          }
        }
      }
      // dX = B E B^T per input channel, N tiles at a time: columns 0-3 of patch row a are
      // interleaved into a staging row (with the previous tile's column 4 added to column 0),
      // then each run adds it into its plane row with vector stores that never overlap. (Two
      // overlapping passes, columns 0-3 and then 4-7, stalled on store-to-load forwarding.)
      float* lo = rows + 2 * rl;
      float* col4 = lo + kP * rl;
      // keep[t]: tile t continues the run of tile t - 1 (same tile row, same step).
      float* keep = col4 + kP * rl;
      for (size_t t = 0; t < ntr; ++t) {
        keep[t] = t > 0 && t < nt && (t0 + t) % tiles_w != 0 ? 1.0f : 0.0f;
      }
      // Rotates lanes up by one: lane i + 1 gets lane i, lane 0 gets lane N - 1.
      HWY_ALIGN int32_t rot[hn::MaxLanes(GemmD())];
      for (size_t i = 0; i < N; ++i) rot[i] = static_cast<int32_t>((i + N - 1) % N);
      const auto rot_idx = hn::SetTableIndices(d, rot);
      const auto lane0 = hn::FirstN(d, 1);
      for (size_t c = 0; c < cc; ++c) {
        const float* HWY_RESTRICT ec = ebuf + c * ntr;
        V prev[kP];  // per patch row, the previous vector's column 4, rotated
        for (size_t a = 0; a < kP; ++a) prev[a] = hn::Zero(d);
        for (size_t j = 0; j < nt; j += N) {
          V r[kP][kP];  // r[i][b] = (E B^T)[i][b]
          HWY_UNROLL(5)
          for (size_t i = 0; i < kP; ++i) {
            V e[kP];
            HWY_UNROLL(5)
            for (size_t l = 0; l < kP; ++l) e[l] = hn::LoadU(d, ec + (i * kP + l) * estride + j);
            W::InputAdjoint(e, r[i]);
          }
          HWY_UNROLL(5)
          for (size_t b = 0; b < kP; ++b) {
            V col[kP], p[kP];
            HWY_UNROLL(5)
            for (size_t i = 0; i < kP; ++i) col[i] = r[i][b];
            W::InputAdjoint(col, p);  // p[a] = dX[a][b]
            HWY_UNROLL(5)
            for (size_t i = 0; i < kP; ++i) r[i][b] = p[i];
          }
          // Column 4 of a tile is column 0 of the next tile of its run: it is added there in
          // registers (lanes shifted up by one, the previous vector's last lane into lane 0);
          // a run's last column 4 is added to the plane on its own.
          const auto cont = hn::Ne(hn::LoadU(d, keep + j), hn::Zero(d));
          HWY_UNROLL(5)
          for (size_t a = 0; a < kP; ++a) {
            const V rotated = hn::TableLookupLanes(r[a][4], rot_idx);
            const V carry = hn::IfThenElseZero(cont, hn::IfThenElse(lane0, prev[a], rotated));
            prev[a] = rotated;
            hn::StoreInterleaved4(hn::Add(r[a][0], carry), r[a][1], r[a][2], r[a][3], d,
                                  lo + a * rl + 4 * j);
            hn::StoreU(r[a][4], d, col4 + a * rl + j);
          }
        }
        float* HWY_RESTRICT plane = planes + c * pstride;
        for (size_t rr = 0; rr < num_runs; ++rr) {
          const Run& run = runs[rr];
          float* HWY_RESTRICT prow = plane + kStep * run.tr * pw + kStep * run.tc0;
          const size_t len = 4 * run.cnt;
          for (size_t a = 0; a < kP; ++a) {
            // prow[0, len) += the run's patch row a, whole vectors then a masked tail.
            const float* HWY_RESTRICT src = lo + a * rl + 4 * run.j;
            float* HWY_RESTRICT dst = prow + a * pw;
            size_t i = 0;
            for (; i + N <= len; i += N) {
              hn::StoreU(hn::Add(hn::LoadU(d, dst + i), hn::LoadU(d, src + i)), d, dst + i);
            }
            if (i < len) {
              hn::BlendedStore(hn::Add(hn::LoadU(d, dst + i), hn::LoadU(d, src + i)),
                               hn::FirstN(d, len - i), d, dst + i);
            }
            dst[len] += col4[a * rl + run.j + run.cnt - 1];
          }
        }
      }
    }
    // Crop the padded planes into dx (input pixels no patch reaches get zero).
    float* dxg = dx + (n * s.in_channels + g * cg) * geo.hw;
    const size_t cols = std::min(s.in_w, pw - std::min(pw, s.pad_w));
    for (size_t c = c0; c < c1; ++c) {
      const float* HWY_RESTRICT plane = planes + (c - c0) * pstride;
      for (size_t ih = 0; ih < s.in_h; ++ih) {
        float* HWY_RESTRICT drow = dxg + c * geo.hw + ih * s.in_w;
        const size_t prow = ih + s.pad_h;
        const size_t len = prow < ph ? cols : 0;
        CopyRowPadded(plane + prow * pw + s.pad_w, len, drow);
        std::fill(drow + len, drow + s.in_w, 0.0f);
      }
    }
  });
}

// Winograd<kStride, kM> weight gradient for 3x3 kernels with no dilation. With V = B^T d B (the
// forward's input transform) and dM = A dY A^T (the adjoint of the output transform),
// dU_xi (kg x cg) = sum over tiles dM_xi * V_xi^T is kPoints GEMMs whose reduction runs over the
// tiles, and dw += G^T dU G. Computed transposed, dU_xi^T (cg x rkg) += V_xi (cg x tiles, rows
// read in place) * dM_xi^T (tiles x kg, PackB strips built from dy transposed per image):
// kPoints multiplies per kM x kM output tile instead of 9 kM^2.
// The tiles are split into one contiguous range per part (a fixed function of the thread
// count); each part sums its own dU, and the parts are added in order.
template <size_t kStride, size_t kM = 2>
inline void ConvBackwardWeightsWinograd(const Conv2dShape& s, const float* x, const float* dy,
                                        float* dw, ThreadPool& pool, bool parallel) {
  using W = Winograd<kStride, kM>;
  constexpr size_t kP = W::kP, kPoints = W::kPoints;
  const detail::ConvGeom geo(s);
  const GemmD d;
  const size_t N = hn::Lanes(d);
  const size_t NR = GemmNR(), KC = GemmKC();
  const size_t cg = geo.cg, kg = geo.kg;
  const size_t tiles_w = detail::DivCeil(geo.ow, kM);
  const size_t tiles = detail::DivCeil(geo.oh, kM) * tiles_w, total = s.batch * tiles;
  const size_t rkg = detail::RoundUp(kg, NR);
  // Tiles per step: both transforms (kPoints x (cg + rkg) x T floats) within about 1 MiB, the
  // L2 of Zen 4 and Zen 5. Each step also reads and writes the whole dU, so longer steps move
  // less of it: alone, with warm caches, 2 MiB ran faster (64 -> 64 channels on 32x32, 128 ->
  // 256 tiles: 161 -> 178 GFLOPS on Zen 4), but inside a training step, where the layers around
  // it have evicted everything, 1 MiB gave vgg-small's step 0.5-4% more speed (Zen 5, steps
  // alternating in one process) and resnet18's at 224x224 the same.
  size_t T = (size_t{1} << 18) / (kPoints * (cg + rkg)) / N * N;
  T = std::min(detail::RoundUp(KC, N), std::max(2 * N, T));
  // Whole images per step when an image is at most a third more than T, or when T holds
  // several and they come out in whole vectors: steps that split images copy short runs of
  // rows per input channel, each a cold start for the prefetchers (64 -> 128 channels on
  // 16x16 outputs, 48 -> 64 tiles: 99 -> 108 GFLOPS).
  if (T < tiles && 3 * tiles <= 4 * T) T = detail::RoundUp(tiles, N);
  if (T > tiles && tiles % N == 0) T = T / tiles * tiles;
  const size_t acc_size = kPoints * cg * rkg;
  // Work split: when one dU (kPoints x cg x rkg floats) exceeds 2 MiB, each thread takes a
  // slice of the output channels over all tiles (the input transform is then done once per
  // slice), so the threads' accumulators together stay one dU; otherwise each thread takes a
  // contiguous range of tiles with its own dU, and the ranges are added in order.
  const size_t threads = parallel ? pool.NumThreads() : 1;
  const size_t strips = rkg / NR;
  const bool ksplit = threads > 1 && acc_size * sizeof(float) > (size_t{2} << 20) &&
                      strips >= threads;
  const size_t kparts = ksplit ? threads : 1;
  if (ksplit) {
    // Each step reads and writes the thread's slice of dU (kPoints x cg x kw floats) and
    // transforms kPoints x (cg + kw) floats per tile: steps of at least 2 cg kw / (cg + kw)
    // tiles move no more of dU than of the tiles (512 -> 512 channels on 7x7 outputs: 8 steps
    // of 32 tiles moved 8 MiB of dU each; now one step of 256).
    const size_t kw = detail::DivCeil(strips, kparts) * NR;
    T = std::max(T, std::min(detail::RoundUp(KC, N), detail::RoundUp(2 * cg * kw / (cg + kw), N)));
    if (T > tiles && tiles % N == 0) T = T / tiles * tiles;
  }
  const size_t parts = ksplit ? 1 : std::min(threads, detail::DivCeil(total, T));
  float* acc_all = ConvScratch(ConvSlot::kPartials, s.groups * parts * acc_size);
  detail::RunTasks(pool, parallel, s.groups * parts * kparts, [&](uint64_t task, size_t) {
    const size_t g = task / (parts * kparts), part = (task / kparts) % parts;
    const size_t kpart = task % kparts;
    const size_t p0 = total * part / parts, p1 = total * (part + 1) / parts;
    // Output channel columns [js0, js1) of dU (whole NR strips).
    const size_t js0 = strips * kpart / kparts * NR, js1 = strips * (kpart + 1) / kparts * NR;
    const size_t k1 = std::min(js1, kg), kw = js1 - js0;
    // dU_xi^T at acc + xi * cg * rkg, row stride rkg.
    float* acc = acc_all + (g * parts + part) * acc_size;
    if (p1 <= p0) {
      std::fill(acc, acc + acc_size, 0.0f);
      return;
    }
    // Odd cache-line counts between the points' matrices (see ConvForwardWinograd).
    const size_t vstride = PhasedLayout::ChannelStride(cg * T);
    const size_t dstride = PhasedLayout::ChannelStride(T * rkg);
    float* vbuf = ConvScratch(ConvSlot::kPackB, kPoints * vstride);
    float* dmt = ConvScratch(ConvSlot::kPackA, kPoints * dstride);
    float* dyt = ConvScratch(ConvSlot::kColumns, geo.p * kw);
    size_t dyt_image = ~size_t{0};
    InPlaceRowsA arows{{}, 0, 0};
    for (size_t t0 = p0; t0 < p1; t0 += T) {
      const size_t nt = std::min(T, p1 - t0), ntr = detail::RoundUp(nt, N);
      WinogradInputTransform<kStride, kM>(s, x, g, t0, nt, ntr, vstride,
                                          [&](size_t c, size_t j) { return vbuf + c * T + j; });
      // dM^T: per tile, the kM x kM block of dy (all kg channels, from dy transposed to pixel-major
      // rows of rkg) becomes kPoints rows of the PackB strips of transform point xi.
      for (size_t j = 0; j < nt; ++j) {
        const size_t tile = t0 + j, n = tile / tiles;
        const size_t oh0 = kM * ((tile % tiles) / tiles_w), ow0 = kM * (tile % tiles_w);
        if (n != dyt_image) {
          // Pixel-major rows of this task's kw output channels (zeros past kg).
          TransposeBlock(dy + (n * s.out_channels + g * kg + js0) * geo.p, geo.p, k1 - js0,
                         geo.p, dyt, kw);
          dyt_image = n;
        }
        const float* HWY_RESTRICT y00 = dyt + (oh0 * geo.ow + ow0) * kw;
        if constexpr (kM == 4) {
          const size_t rows = std::min<size_t>(4, geo.oh - oh0);
          const size_t cols = std::min<size_t>(4, geo.ow - ow0);
          for (size_t k = js0; k < js1; k += N) {
            const size_t kk = k - js0;
            hn::Vec<GemmD> yt[16];  // the tile's outputs (zero past the plane)
            for (size_t r = 0; r < 4; ++r) {
              for (size_t q = 0; q < 4; ++q) {
                yt[r * 4 + q] = r < rows && q < cols
                                    ? hn::LoadU(d, y00 + (r * geo.ow + q) * kw + kk)
                                    : hn::Zero(d);
              }
            }
            W::OutputAdjointTile4(d, yt, dmt + (k / NR) * NR * T + j * NR + k % NR, dstride);
          }
        } else {
          const bool right = ow0 + 1 < geo.ow, down = oh0 + 1 < geo.oh;
          for (size_t k = js0; k < js1; k += N) {
            const auto zero = hn::Zero(d);
            const size_t kk = k - js0;
            const auto a = hn::LoadU(d, y00 + kk);
            const auto b = right ? hn::LoadU(d, y00 + kw + kk) : zero;
            const auto c = down ? hn::LoadU(d, y00 + geo.ow * kw + kk) : zero;
            const auto e = right && down ? hn::LoadU(d, y00 + (geo.ow + 1) * kw + kk) : zero;
            W::OutputAdjoint2D(d, a, b, c, e, dmt + (k / NR) * NR * T + j * NR + k % NR, dstride);
          }
        }
      }
      const TileEpilogue ep{t0 == p0 ? 0.0f : 1.0f, nullptr, false};
      for (size_t xi = 0; xi < kPoints; ++xi) {
        const float* va = vbuf + xi * vstride;
        float* cx = acc + xi * cg * rkg;
        for (size_t js = js0; js < js1; js += NR) {
          const size_t cols = std::min(NR, kg - js);
          const float* bp = dmt + xi * dstride + js * T;
          for (size_t is = 0; is < cg; is += kGemmMR) {
            const size_t rows = std::min(kGemmMR, cg - is);
            for (size_t r = 0; r < kGemmMR; ++r) {
              arows.rows[r] = va + (is + (r < rows ? r : 0)) * T;
            }
            MicroKernelRows<kGemmMR, false>(1, nt, arows, PackedB{bp}, cx + is * rkg + js, rkg,
                                            rows, cols, ep);
          }
        }
      }
    }
  });
  // dw[k][c] += G^T (sum over parts of dU[k][c]) G, N output channels k at a time (dU^T rows
  // are contiguous in k); the 9 taps of each k are then added to dw's (k, c) run.
  const size_t tasks = parallel ? std::min(s.groups * cg, pool.NumThreads() * 4) : 1;
  detail::RunTasks(pool, parallel && tasks > 1, tasks, [&](uint64_t task, size_t) {
    using V = hn::Vec<GemmD>;
    HWY_ALIGN float taps[9 * hn::MaxLanes(GemmD())];
    const size_t u0 = s.groups * cg * task / tasks, u1 = s.groups * cg * (task + 1) / tasks;
    for (size_t unit = u0; unit < u1; ++unit) {
      const size_t g = unit / cg, c = unit % cg;
      for (size_t k0 = 0; k0 < kg; k0 += N) {
        V u[kPoints];
        for (size_t xi = 0; xi < kPoints; ++xi) {
          const float* src = acc_all + g * parts * acc_size + (xi * cg + c) * rkg + k0;
          u[xi] = hn::LoadU(d, src);
          for (size_t part = 1; part < parts; ++part) {
            u[xi] = hn::Add(u[xi], hn::LoadU(d, src + part * acc_size));
          }
        }
        V t[3][kP];  // t[i][l] = (G^T u)[i][l]: the row points first
        for (size_t l = 0; l < kP; ++l) {
          V col[3];
          W::WeightAdjoint(u + l, kP, col);
          for (size_t i = 0; i < 3; ++i) t[i][l] = col[i];
        }
        for (size_t i = 0; i < 3; ++i) {
          V row[3];
          W::WeightAdjoint(t[i], 1, row);
          for (size_t l = 0; l < 3; ++l) hn::Store(row[l], d, taps + (3 * i + l) * N);
        }
        for (size_t kk = 0; kk < std::min(N, kg - k0); ++kk) {
          float* HWY_RESTRICT out = dw + ((g * kg + k0 + kk) * cg + c) * 9;
          for (size_t tap = 0; tap < 9; ++tap) out[tap] += taps[tap * N + kk];
        }
      }
    }
  });
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_LAYERS_CONV_WINOGRAD_BACKWARD_TOGGLE
