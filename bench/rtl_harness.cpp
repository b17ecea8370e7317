// Bare Verilator harness for a stream-in / stream-out Amaranth design (ports i__*, o__*, clk, rst;
// Verilator escapes the double underscore, so the C++ members are i___05Fvalid, ...).
//
// Memory-fed: input payloads come pre-packed from a file of 32-bit little-endian words (W_IN words
// per beat), outputs are written the same way (W_OUT words per beat). valid and ready are held high,
// so this measures what the simulated design itself costs, without cocotb's per-cycle Python — or, with
// the optional THR_V THR_R SEED, randomised as the bench shell does (sim/rtl/shell.py): per cycle a 16-bit
// draw of a seeded xorshift32 against THR (round(p·65536)) offers a new input beat / takes an output beat.
//
// usage: harness IN.bin N_IN W_IN OUT.bin N_OUT W_OUT [THR_V THR_R SEED]
// prints one JSON line: {"cycles": edges from the first offered beat to the last output taken,
//                        "beats_out": ..., "loop_s": wall time of the clock loop in seconds,
//                        "loop_cpu_s": its CPU time in seconds}
#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <type_traits>
#include <vector>

#include "Vtop.h"
#include "verilated.h"

template <typename T>
static inline void put(T& sig, const uint32_t* w) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t v = w[0];
        if constexpr (sizeof(T) > 4) v |= static_cast<uint64_t>(w[1]) << 32;
        sig = static_cast<T>(v);
    } else {
        for (size_t i = 0; i < sig.size(); ++i) sig[i] = w[i];
    }
}

template <typename T>
static inline void get(const T& sig, uint32_t* w) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t v = sig;
        w[0] = static_cast<uint32_t>(v);
        if constexpr (sizeof(T) > 4) w[1] = static_cast<uint32_t>(v >> 32);
    } else {
        for (size_t i = 0; i < sig.size(); ++i) w[i] = sig[i];
    }
}

int main(int argc, char** argv) {
    if (argc != 7 && argc != 10) {
        std::fprintf(stderr, "usage: %s IN.bin N_IN W_IN OUT.bin N_OUT W_OUT [THR_V THR_R SEED]\n", argv[0]);
        return 2;
    }
    const uint32_t thr_v = argc == 10 ? std::strtoul(argv[7], nullptr, 10) : 65536;
    const uint32_t thr_r = argc == 10 ? std::strtoul(argv[8], nullptr, 10) : 65536;
    const uint32_t seed = argc == 10 ? std::strtoul(argv[9], nullptr, 10) : 0;
    uint32_t lv = seed ^ 0x9e3779b9u, lr = seed ^ 0x7f4a7c15u;
    auto draw = [](uint32_t& x) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; return x >> 16; };
    const size_t n_in = std::strtoull(argv[2], nullptr, 10), w_in = std::strtoull(argv[3], nullptr, 10);
    const size_t n_out = std::strtoull(argv[5], nullptr, 10), w_out = std::strtoull(argv[6], nullptr, 10);
    std::vector<uint32_t> in(n_in * w_in + 2), out(n_out * w_out + 2);
    FILE* f = std::fopen(argv[1], "rb");
    if (!f || std::fread(in.data(), 4, n_in * w_in, f) != n_in * w_in) {
        std::fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    std::fclose(f);

    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vtop>(ctx.get());
    top->clk = 0;
    top->rst = 1;
    top->i___05Fvalid = 0;
    top->o___05Fready = 0;
    for (int k = 0; k < 2; ++k) {
        top->clk = 0; top->eval();
        top->clk = 1; top->eval();
    }
    top->rst = 0;
    top->o___05Fready = 1;
    bool offered = false;  // an input beat on offer, kept until taken

    const uint64_t limit = (20ull * (n_in > n_out ? n_in : n_out) + 1000) * ((thr_v < 65536 || thr_r < 65536) ? 4 : 1);
    size_t taken_in = 0, taken_out = 0;
    uint64_t edge = 0, last_edge = 0;
    auto t0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();
    while (taken_out < n_out && edge < limit) {
        if (!offered) offered = taken_in < n_in && (thr_v >= 65536 || draw(lv) < thr_v);
        top->o___05Fready = thr_r >= 65536 || draw(lr) < thr_r;
        top->i___05Fvalid = offered;
        if (taken_in < n_in) put(top->i___05Fpayload, &in[taken_in * w_in]);
        top->clk = 0;
        top->eval();
        const bool in_fire = top->i___05Fvalid && top->i___05Fready;
        if (top->o___05Fvalid && top->o___05Fready) {
            get(top->o___05Fpayload, &out[taken_out * w_out]);
            ++taken_out;
            last_edge = edge + 1;
        }
        top->clk = 1;
        top->eval();
        if (in_fire) {
            ++taken_in;
            offered = false;
        }
        ++edge;
    }
    const double loop_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double loop_cpu_s = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    top->final();

    f = std::fopen(argv[4], "wb");
    if (!f || std::fwrite(out.data(), 4, taken_out * w_out, f) != taken_out * w_out) {
        std::fprintf(stderr, "cannot write %s\n", argv[4]);
        return 2;
    }
    std::fclose(f);
    std::printf("{\"cycles\": %llu, \"beats_out\": %zu, \"loop_s\": %.6f, \"loop_cpu_s\": %.6f}\n",
                static_cast<unsigned long long>(last_edge), taken_out, loop_s, loop_cpu_s);
    return taken_out == n_out ? 0 : 1;
}
