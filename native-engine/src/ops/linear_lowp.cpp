#include "ops/linear_lowp.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/cpu_features.h"
#include "ops/hadamard.h"

namespace vggt::ops {
namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

// Streams are cheap but not thread-safe to share; one per calling thread.
dnnl::stream& thread_stream() {
  thread_local dnnl::stream s(cpu_engine());
  return s;
}

// Grow-only per-thread staging buffer for converted activations; avoids a fresh mmap (and
// its page faults) for every call of a multi-megabyte activation.
void* staging(size_t bytes) {
  struct Buf {
    void* p = nullptr;
    size_t n = 0;
    ~Buf() { std::free(p); }
  };
  thread_local Buf buf;
  if (bytes > buf.n) {
    std::free(buf.p);
    buf.n = ((bytes + 4095) / 4096) * 4096;
    buf.p = std::aligned_alloc(64, buf.n);
    if (!buf.p) {
      buf.n = 0;
      throw std::bad_alloc();
    }
  }
  return buf.p;
}

void check_shape(const char* who, int N, int K) {
  if (N <= 0 || K <= 0)
    throw std::invalid_argument(std::string(who) + ": bad weight shape [" + std::to_string(N) +
                                "," + std::to_string(K) + "]");
}

// oneDNN matmul y = x * W^T (+ bias) with W reordered once into the blocked layout oneDNN
// picks for format_tag::any. That layout does not depend on M (checked on oneDNN 2.6), so one
// packed copy serves every M; primitives are cached per M because creating one costs ~ms.
// (A runtime-M primitive falls back to gemm:jit, which repacks the weights on every call.)
class PackedMatmul {
 public:
  PackedMatmul(dt src_dt, dt wei_dt, dt dst_dt, int N, int K, const void* W_plain, dt plain_dt,
               const float* bias)
      : src_dt_(src_dt), wei_dt_(wei_dt), dst_dt_(dst_dt), N_(N), K_(K) {
    auto& eng = cpu_engine();
    // W [N,K] row-major is W^T [K,N] with strides (1,K): format_tag::ba.
    memory::desc plain_md({K, N}, plain_dt, tag::ba);
    memory::desc any_md({K, N}, wei_dt, tag::any);
    const memory::dim ref_m = 256;
    auto pd = dnnl::matmul::primitive_desc(
        dnnl::matmul::desc(memory::desc({ref_m, K}, src_dt, tag::ab), any_md,
                           memory::desc({ref_m, N}, dst_dt, tag::ab)),
        eng);
    impl_ = pd.impl_info_str();
    wei_md_ = pd.weights_desc();
    wei_ = memory(wei_md_, eng);
    memory src_w(plain_md, eng, const_cast<void*>(W_plain));
    auto& s = thread_stream();
    dnnl::reorder(src_w, wei_).execute(s, src_w, wei_);
    s.wait();
    if (bias) {
      bias_md_ = memory::desc({1, N}, dt::f32, tag::ab);
      bias_ = memory(bias_md_, eng);
      std::memcpy(bias_.get_data_handle(), bias, sizeof(float) * N);
    }
  }

  // gelu: exact (erf) GELU applied to x W^T + b in the epilogue; dst_dt: output type
  // (the constructor's by default; bf16 hands the result to a following bf16 Linear).
  void run(const void* x, void* y, int M, bool gelu = false, dt dst_dt = dt::undef) const {
    if (M <= 0) return;
    if (dst_dt == dt::undef) dst_dt = dst_dt_;
    dnnl::matmul prim = primitive(M, gelu, dst_dt);
    auto& eng = cpu_engine();
    memory src(memory::desc({M, K_}, src_dt_, tag::ab), eng, const_cast<void*>(x));
    memory dst(memory::desc({M, N_}, dst_dt, tag::ab), eng, y);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei_}, {DNNL_ARG_DST, dst}};
    if (bias_) args[DNNL_ARG_BIAS] = bias_;
    auto& s = thread_stream();
    prim.execute(s, args);
    s.wait();
  }

  // Packed weights back to row-major [N,K] in out_dt.
  void unpack(void* W_out, dt out_dt) const {
    memory dst(memory::desc({K_, N_}, out_dt, tag::ba), cpu_engine(), W_out);
    auto& s = thread_stream();
    dnnl::reorder(wei_, dst).execute(s, const_cast<memory&>(wei_), dst);
    s.wait();
  }

  size_t weight_bytes() const {
    return wei_md_.get_size() + (bias_ ? sizeof(float) * static_cast<size_t>(N_) : 0);
  }
  const std::string& impl() const { return impl_; }
  bool has_bias() const { return static_cast<bool>(bias_); }

 private:
  dnnl::matmul primitive(int M, bool gelu, dt dst_dt) const {
    std::lock_guard<std::mutex> lock(mu_);
    const auto key = std::make_tuple(M, gelu, static_cast<int>(dst_dt));
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    if (cache_.size() >= 32) cache_.clear();  // many distinct M: keep memory bounded
    auto& eng = cpu_engine();
    memory::desc src({M, K_}, src_dt_, tag::ab), dst({M, N_}, dst_dt, tag::ab);
    auto d = bias_ ? dnnl::matmul::desc(src, wei_md_, bias_md_, dst)
                   : dnnl::matmul::desc(src, wei_md_, dst);
    dnnl::primitive_attr attr;
    if (gelu) {
      dnnl::post_ops po;
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
      attr.set_post_ops(po);
    }
    dnnl::matmul prim(dnnl::matmul::primitive_desc(d, attr, eng));
    cache_.emplace(key, prim);
    return prim;
  }

  dt src_dt_, wei_dt_, dst_dt_;
  memory::dim N_, K_;
  memory::desc wei_md_, bias_md_;
  memory wei_, bias_;
  std::string impl_;
  mutable std::mutex mu_;
  mutable std::map<std::tuple<int, bool, int>, dnnl::matmul> cache_;
};

bool onednn_native_bf16(int N, int K) {
  if (isa_level() < IsaLevel::avx512) return false;
  try {
    auto pd = dnnl::matmul::primitive_desc(
        dnnl::matmul::desc(memory::desc({256, K}, dt::bf16, tag::ab),
                           memory::desc({K, N}, dt::bf16, tag::any),
                           memory::desc({256, N}, dt::f32, tag::ab)),
        cpu_engine());
    // The reference bf16 kernel is far slower than the fp32 emulation path.
    return std::string(pd.impl_info_str()).find("ref") == std::string::npos;
  } catch (const dnnl::error&) {
    return false;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
namespace detail {

void f32_to_bf16_generic(const float* x, int64_t n, uint16_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, &x[i], 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) {
      out[i] = static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
    } else {
      out[i] = static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    }
  }
}

void f32_to_bf16(const float* x, int64_t n, uint16_t* out) {
  const bool wide = isa_level() >= IsaLevel::avx512;
  const int64_t chunk = 1 << 16;
#pragma omp parallel for schedule(static) if (n > 4 * chunk)
  for (int64_t c = 0; c < n; c += chunk) {
    const int64_t len = std::min(chunk, n - c);
    if (wide)
      f32_to_bf16_avx512(x + c, len, out + c);
    else
      f32_to_bf16_generic(x + c, len, out + c);
  }
}

void round_to_bf16(const float* x, int64_t n, float* out) {
#pragma omp parallel for schedule(static) if (n > (1 << 18))
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    f32_to_bf16_generic(&x[i], 1, &h);
    uint32_t u = static_cast<uint32_t>(h) << 16;
    std::memcpy(&out[i], &u, 4);
  }
}

void quantize_rows_s8_generic(const float* x, int64_t M, int K, int8_t* q, float* scale) {
  for (int64_t m = 0; m < M; ++m) {
    const float* xr = x + m * K;
    int8_t* qr = q + m * K;
    float amax = 0.0f;
    for (int k = 0; k < K; ++k) amax = std::max(amax, std::fabs(xr[k]));
    if (!(amax > 0.0f) || !std::isfinite(amax)) {
      // All-zero row (or non-finite input, which int8 cannot carry): emit zeros.
      scale[m] = amax > 0.0f ? amax : 1.0f;
      std::fill(qr, qr + K, static_cast<int8_t>(0));
      continue;
    }
    const float inv = 127.0f / amax;
    scale[m] = amax / 127.0f;
    for (int k = 0; k < K; ++k) {
      float v = std::nearbyint(xr[k] * inv);
      v = std::min(127.0f, std::max(-127.0f, v));
      qr[k] = static_cast<int8_t>(v);
    }
  }
}

void quantize_rows_s8(const float* x, int64_t M, int K, int8_t* q, float* scale) {
  const bool wide = isa_level() >= IsaLevel::avx512;
  const int64_t rows = std::max<int64_t>(1, 16384 / std::max(K, 1));
#pragma omp parallel for schedule(static) if (M * K > (1 << 16))
  for (int64_t m = 0; m < M; m += rows) {
    const int64_t len = std::min(rows, M - m);
    if (wide)
      quantize_rows_s8_avx512(x + m * K, len, K, q + m * K, scale + m);
    else
      quantize_rows_s8_generic(x + m * K, len, K, q + m * K, scale + m);
  }
}

void dequantize_rows_generic(const int32_t* acc, int64_t M, int N, const float* sx,
                             const float* sw, const float* b, float* y) {
  for (int64_t m = 0; m < M; ++m) {
    const int32_t* a = acc + m * N;
    float* yr = y + m * N;
    const float s = sx[m];
    for (int n = 0; n < N; ++n) {
      const float v = static_cast<float>(a[n]) * (s * sw[n]);
      yr[n] = b ? v + b[n] : v;
    }
  }
}

void dequantize_rows(const int32_t* acc, int64_t M, int N, const float* sx, const float* sw,
                     const float* b, float* y) {
  const bool wide = isa_level() >= IsaLevel::avx512;
  const int64_t rows = std::max<int64_t>(1, 16384 / std::max(N, 1));
#pragma omp parallel for schedule(static) if (M * N > (1 << 16))
  for (int64_t m = 0; m < M; m += rows) {
    const int64_t len = std::min(rows, M - m);
    if (wide)
      dequantize_rows_avx512(acc + m * N, len, N, sx + m, sw, b, y + m * N);
    else
      dequantize_rows_generic(acc + m * N, len, N, sx + m, sw, b, y + m * N);
  }
}

}  // namespace detail

// ---------------------------------------------------------------------------------------
struct LinearF32Packed::Impl {
  Impl(const float* W, const float* b, int N_, int K_)
      : N(N_), K(K_), mm(dt::f32, dt::f32, dt::f32, N_, K_, W, dt::f32, b) {}
  int N, K;
  PackedMatmul mm;
};

LinearF32Packed::LinearF32Packed(const float* W, const float* b, int N, int K) {
  check_shape("LinearF32Packed", N, K);
  impl_ = std::make_unique<Impl>(W, b, N, K);
}
LinearF32Packed::~LinearF32Packed() = default;
LinearF32Packed::LinearF32Packed(LinearF32Packed&&) noexcept = default;
LinearF32Packed& LinearF32Packed::operator=(LinearF32Packed&&) noexcept = default;
void LinearF32Packed::forward(const float* x, float* y, int M) const { impl_->mm.run(x, y, M); }
size_t LinearF32Packed::weight_bytes() const { return impl_->mm.weight_bytes(); }
int LinearF32Packed::out_features() const { return impl_->N; }
int LinearF32Packed::in_features() const { return impl_->K; }

// ---------------------------------------------------------------------------------------
struct LinearBF16::Impl {
  int N = 0, K = 0;
  bool native = false;
  std::unique_ptr<PackedMatmul> mm;  // bf16 x bf16 -> f32, or f32 emulation with bf16 values
};

LinearBF16::LinearBF16() = default;
LinearBF16::~LinearBF16() = default;
LinearBF16::LinearBF16(LinearBF16&&) noexcept = default;
LinearBF16& LinearBF16::operator=(LinearBF16&&) noexcept = default;

LinearBF16::LinearBF16(const float* W, const float* b, int N, int K) {
  check_shape("LinearBF16", N, K);
  std::vector<uint16_t> wb(static_cast<size_t>(N) * K);
  convert_weights(W, static_cast<int64_t>(wb.size()), wb.data());
  *this = from_bf16(wb.data(), b, N, K);
}

LinearBF16 LinearBF16::from_bf16(const uint16_t* W_bf16, const float* b, int N, int K) {
  check_shape("LinearBF16", N, K);
  LinearBF16 out;
  out.impl_ = std::make_unique<Impl>();
  Impl& im = *out.impl_;
  im.N = N;
  im.K = K;
  im.native = onednn_native_bf16(N, K);
  if (im.native) {
    im.mm = std::make_unique<PackedMatmul>(dt::bf16, dt::bf16, dt::f32, N, K, W_bf16, dt::bf16, b);
  } else {
    std::vector<float> wf(static_cast<size_t>(N) * K);
    for (size_t i = 0; i < wf.size(); ++i) {
      uint32_t u = static_cast<uint32_t>(W_bf16[i]) << 16;
      std::memcpy(&wf[i], &u, 4);
    }
    im.mm = std::make_unique<PackedMatmul>(dt::f32, dt::f32, dt::f32, N, K, wf.data(), dt::f32, b);
  }
  return out;
}

void LinearBF16::convert_weights(const float* W, int64_t count, uint16_t* out) {
  detail::f32_to_bf16(W, count, out);
}

void LinearBF16::forward(const float* x, float* y, int M) const {
  if (M <= 0) return;
  const Impl& im = *impl_;
  const int64_t n = static_cast<int64_t>(M) * im.K;
  if (im.native) {
    auto* xb = static_cast<uint16_t*>(staging(sizeof(uint16_t) * n));
    detail::f32_to_bf16(x, n, xb);
    im.mm->run(xb, y, M);
  } else {
    auto* xr = static_cast<float*>(staging(sizeof(float) * n));
    detail::round_to_bf16(x, n, xr);
    im.mm->run(xr, y, M);
  }
}

void LinearBF16::forward_gelu_to_bf16(const float* x, uint16_t* y, int M) const {
  if (M <= 0) return;
  const Impl& im = *impl_;
  if (!im.native) throw std::logic_error("LinearBF16::forward_gelu_to_bf16 needs native bf16");
  const int64_t n = static_cast<int64_t>(M) * im.K;
  auto* xb = static_cast<uint16_t*>(staging(sizeof(uint16_t) * n));
  detail::f32_to_bf16(x, n, xb);
  im.mm->run(xb, y, M, /*gelu=*/true, dt::bf16);
}

void LinearBF16::forward_bf16_input(const uint16_t* x, float* y, int M) const {
  if (M <= 0) return;
  const Impl& im = *impl_;
  if (!im.native) throw std::logic_error("LinearBF16::forward_bf16_input needs native bf16");
  im.mm->run(x, y, M);
}

void LinearBF16::export_bf16(uint16_t* W_out) const {
  const Impl& im = *impl_;
  if (im.native) {
    im.mm->unpack(W_out, dt::bf16);
  } else {
    std::vector<float> wf(static_cast<size_t>(im.N) * im.K);
    im.mm->unpack(wf.data(), dt::f32);
    detail::f32_to_bf16_generic(wf.data(), static_cast<int64_t>(wf.size()), W_out);  // exact
  }
}

size_t LinearBF16::weight_bytes() const { return impl_->mm->weight_bytes(); }
int LinearBF16::out_features() const { return impl_->N; }
int LinearBF16::in_features() const { return impl_->K; }
bool LinearBF16::native_bf16() const { return impl_->native; }

// ---------------------------------------------------------------------------------------
struct LinearW8A8::Impl {
  int N = 0, K = 0;
  bool hadamard = false;
  std::vector<float> w_scale;
  std::vector<float> bias;
  std::unique_ptr<PackedMatmul> mm;  // s8 x s8 -> s32, no bias (applied when dequantising)
  // Residual weights (optional): what the int8 weights missed, quantised again per row.
  std::vector<float> r_scale;
  std::unique_ptr<PackedMatmul> mm_r;
};

LinearW8A8::LinearW8A8() = default;
LinearW8A8::~LinearW8A8() = default;
LinearW8A8::LinearW8A8(LinearW8A8&&) noexcept = default;
LinearW8A8& LinearW8A8::operator=(LinearW8A8&&) noexcept = default;

bool LinearW8A8::rotates(int K, bool hadamard) { return hadamard && is_power_of_two(K); }

void LinearW8A8::quantize_weights(const float* W, int N, int K, int8_t* W_q, float* scale,
                                  bool hadamard) {
  check_shape("LinearW8A8", N, K);
  if (!rotates(K, hadamard)) {
    detail::quantize_rows_s8_generic(W, N, K, W_q, scale);
    return;
  }
  // W H / K, row by row (H is symmetric, so each row of W H is the transform of W's row).
  const float inv = 1.0f / static_cast<float>(K);  // exact: K is a power of two
#pragma omp parallel
  {
    std::vector<float> row(K);
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) {
      std::copy(W + static_cast<int64_t>(n) * K, W + static_cast<int64_t>(n + 1) * K, row.begin());
      fwht(row.data(), K);
      for (float& v : row) v *= inv;
      detail::quantize_rows_s8_generic(row.data(), 1, K, W_q + static_cast<int64_t>(n) * K, scale + n);
    }
  }
}

void LinearW8A8::quantize_residual(const float* W, const int8_t* W_q, const float* scale, int N, int K,
                                   int8_t* R_q, float* r_scale, bool hadamard) {
  check_shape("LinearW8A8", N, K);
  const bool rot = rotates(K, hadamard);
  const float inv = 1.0f / static_cast<float>(K);
#pragma omp parallel
  {
    std::vector<float> row(K);
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) {
      const int64_t o = static_cast<int64_t>(n) * K;
      std::copy(W + o, W + o + K, row.begin());
      if (rot) {
        fwht(row.data(), K);
        for (float& v : row) v *= inv;
      }
      for (int k = 0; k < K; ++k) row[k] -= static_cast<float>(W_q[o + k]) * scale[n];
      detail::quantize_rows_s8_generic(row.data(), 1, K, R_q + o, r_scale + n);
    }
  }
}

LinearW8A8::LinearW8A8(const float* W, const float* b, int N, int K, bool hadamard, bool residual) {
  check_shape("LinearW8A8", N, K);
  std::vector<int8_t> wq(static_cast<size_t>(N) * K);
  std::vector<float> sc(N);
  quantize_weights(W, N, K, wq.data(), sc.data(), hadamard);
  *this = from_quantized(wq.data(), sc.data(), b, N, K, hadamard);
  if (residual) {
    std::vector<int8_t> rq(wq.size());
    std::vector<float> rsc(N);
    quantize_residual(W, wq.data(), sc.data(), N, K, rq.data(), rsc.data(), hadamard);
    set_residual(rq.data(), rsc.data());
  }
}

void LinearW8A8::set_residual(const int8_t* R_q, const float* r_scale) {
  Impl& im = *impl_;
  for (int n = 0; n < im.N; ++n)
    if (!(r_scale[n] > 0.0f) || !std::isfinite(r_scale[n]))
      throw std::invalid_argument("LinearW8A8: residual scale of output channel " + std::to_string(n) +
                                  " is not a positive finite number");
  im.r_scale.assign(r_scale, r_scale + im.N);
  im.mm_r = std::make_unique<PackedMatmul>(dt::s8, dt::s8, dt::s32, im.N, im.K, R_q, dt::s8, nullptr);
}

bool LinearW8A8::has_residual() const { return impl_->mm_r != nullptr; }

void LinearW8A8::export_residual(int8_t* R_q_out, float* r_scale_out) const {
  if (!impl_->mm_r) throw std::logic_error("LinearW8A8: no residual weights to export");
  impl_->mm_r->unpack(R_q_out, dt::s8);
  std::copy(impl_->r_scale.begin(), impl_->r_scale.end(), r_scale_out);
}

LinearW8A8 LinearW8A8::from_quantized(const int8_t* W_q, const float* scale, const float* b,
                                      int N, int K, bool hadamard) {
  check_shape("LinearW8A8", N, K);
  for (int n = 0; n < N; ++n)
    if (!(scale[n] > 0.0f) || !std::isfinite(scale[n]))
      throw std::invalid_argument("LinearW8A8: weight scale of output channel " +
                                  std::to_string(n) + " is not a positive finite number");
  LinearW8A8 out;
  out.impl_ = std::make_unique<Impl>();
  Impl& im = *out.impl_;
  im.N = N;
  im.K = K;
  im.hadamard = rotates(K, hadamard);
  im.w_scale.assign(scale, scale + N);
  if (b) im.bias.assign(b, b + N);
  im.mm = std::make_unique<PackedMatmul>(dt::s8, dt::s8, dt::s32, N, K, W_q, dt::s8, nullptr);
  return out;
}

void LinearW8A8::forward(const float* x, float* y, int M, int period, int special) const {
  if (M <= 0) return;
  const Impl& im = *impl_;
  const int K = im.K, N = im.N;
  // Rows that get a second (residual) quantisation level.
  std::vector<int> extra;
  if (period > 0 && special > 0)
    for (int m = 0; m < M; ++m)
      if (m % period < special) extra.push_back(m);
  const int E = static_cast<int>(extra.size());
  auto pad = [](size_t n) { return ((n + 63) / 64) * 64; };
  const size_t qbytes = pad(static_cast<size_t>(M + E) * K);
  const size_t sbytes = pad(sizeof(float) * (M + E));
  const size_t accbytes = pad(sizeof(int32_t) * static_cast<size_t>(E) * N);
  auto* buf = static_cast<char*>(staging(qbytes + sbytes + accbytes));
  auto* xq = reinterpret_cast<int8_t*>(buf);
  auto* xs = reinterpret_cast<float*>(buf + qbytes);
  auto* acc2 = reinterpret_cast<int32_t*>(buf + qbytes + sbytes);
  if (!im.hadamard && E == 0) {
    detail::quantize_rows_s8(x, M, K, xq, xs);
  } else {
    // Row by row: rotate (optional) into a private copy, quantise, and for the special rows
    // quantise what the first level missed into the extra rows [M, M + E).
    std::vector<int> extra_of(M, -1);
    for (int e = 0; e < E; ++e) extra_of[extra[e]] = e;
#pragma omp parallel
    {
      std::vector<float> row(K);
#pragma omp for schedule(static)
      for (int m = 0; m < M; ++m) {
        const float* src = x + static_cast<int64_t>(m) * K;
        if (im.hadamard) {
          std::copy(src, src + K, row.begin());
          fwht(row.data(), K);
          src = row.data();
        }
        int8_t* q = xq + static_cast<int64_t>(m) * K;
        detail::quantize_rows_s8(src, 1, K, q, xs + m);
        const int e = extra_of[m];
        if (e < 0) continue;
        if (src != row.data()) std::copy(src, src + K, row.begin());
        for (int k = 0; k < K; ++k) row[k] -= static_cast<float>(q[k]) * xs[m];
        detail::quantize_rows_s8(row.data(), 1, K, xq + static_cast<int64_t>(M + e) * K, xs + M + e);
      }
    }
  }
  // Residual weights R (W ~= s Q + r R): the special rows get x R exactly enough (their level-1
  // activations against R: one more row each), the other rows the mean of their x against R, a
  // per-call bias that removes the part of the weights' rounding error common to all tokens.
  std::vector<float> bias_c, corr;
  std::vector<int32_t> acc_r;
  std::vector<float> rs;
  if (im.mm_r) {
    std::vector<float> mu(K, 0.0f);
    const int plain_rows = M - E;
    if (plain_rows > 0) {
      const int T = omp_get_max_threads();
      std::vector<float> part(static_cast<size_t>(T) * K, 0.0f);
#pragma omp parallel
      {
        float* acc = part.data() + static_cast<size_t>(omp_get_thread_num()) * K;
#pragma omp for schedule(static)
        for (int m = 0; m < M; ++m) {
          if (period > 0 && special > 0 && m % period < special) continue;
          const float* r = x + static_cast<int64_t>(m) * K;
          for (int k = 0; k < K; ++k) acc[k] += r[k];
        }
      }
      for (int t = 0; t < T; ++t)
        for (int k = 0; k < K; ++k) mu[k] += part[static_cast<size_t>(t) * K + k];
      const float inv = 1.0f / static_cast<float>(plain_rows);
      for (float& v : mu) v *= inv;
      if (im.hadamard) fwht(mu.data(), K);  // the rows were rotated the same way
    }
    std::vector<int8_t> rq(static_cast<size_t>(1 + E) * K);
    rs.resize(1 + E);
    detail::quantize_rows_s8(mu.data(), 1, K, rq.data(), rs.data());
    for (int e = 0; e < E; ++e) {
      std::copy(xq + static_cast<int64_t>(extra[e]) * K, xq + static_cast<int64_t>(extra[e] + 1) * K,
                rq.begin() + static_cast<int64_t>(1 + e) * K);
      rs[1 + e] = xs[extra[e]];
    }
    acc_r.resize(static_cast<size_t>(1 + E) * N);
    im.mm_r->run(rq.data(), acc_r.data(), 1 + E);
    corr.resize(N);
    bias_c.resize(N);
    for (int n = 0; n < N; ++n) {
      corr[n] = static_cast<float>(acc_r[n]) * (rs[0] * im.r_scale[n]);
      bias_c[n] = (im.bias.empty() ? 0.0f : im.bias[n]) + corr[n];
    }
  }
  const float* bias = im.mm_r ? bias_c.data() : im.bias.empty() ? nullptr : im.bias.data();
  // int32 accumulators land in y itself (same size as the fp32 output), then dequantise in place.
  im.mm->run(xq, y, M);
  detail::dequantize_rows(reinterpret_cast<const int32_t*>(y), M, N, xs, im.w_scale.data(), bias, y);
  if (im.mm_r)
    for (int e = 0; e < E; ++e) {
      const int32_t* a = acc_r.data() + static_cast<int64_t>(1 + e) * N;
      float* yr = y + static_cast<int64_t>(extra[e]) * N;
      const float s = rs[1 + e];
      for (int n = 0; n < N; ++n) yr[n] += static_cast<float>(a[n]) * (s * im.r_scale[n]) - corr[n];
    }
  if (E > 0) {
    im.mm->run(xq + static_cast<int64_t>(M) * K, acc2, E);
    for (int e = 0; e < E; ++e) {
      const int32_t* a = acc2 + static_cast<int64_t>(e) * N;
      float* yr = y + static_cast<int64_t>(extra[e]) * N;
      const float s = xs[M + e];
      for (int n = 0; n < N; ++n) yr[n] += static_cast<float>(a[n]) * (s * im.w_scale[n]);
    }
  }
}

bool LinearW8A8::hadamard() const { return impl_->hadamard; }

void LinearW8A8::export_quantized(int8_t* W_q_out, float* scale_out) const {
  impl_->mm->unpack(W_q_out, dt::s8);
  std::copy(impl_->w_scale.begin(), impl_->w_scale.end(), scale_out);
}

size_t LinearW8A8::weight_bytes() const {
  return impl_->mm->weight_bytes() + (impl_->mm_r ? impl_->mm_r->weight_bytes() : 0) +
         sizeof(float) * (impl_->w_scale.size() + impl_->r_scale.size() + impl_->bias.size());
}
int LinearW8A8::out_features() const { return impl_->N; }
int LinearW8A8::in_features() const { return impl_->K; }

}  // namespace vggt::ops
