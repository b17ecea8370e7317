// logcam's main for cocotb + Verilator builds: cocotb's share/lib/verilator/verilator.cpp (cocotb 2.1,
// Copyright cocotb contributors, Revised BSD License) plus one addition, marked "logcam" below.
//
// With LOGCAM_SHELL defined (builds of logcam.sim.rtl.shell), while the shell's `mem_mode` input is set and
// its `done` output is low, this main drives `clk` itself in a C++ loop — two evals per cycle, no VPI
// callback and no Python per edge, as a bare Verilator harness does — then settles the value callbacks so
// cocotb's `await RisingEdge(dut.done)` wakes. Everything else is cocotb's loop, unchanged.
// SPDX-License-Identifier: BSD-3-Clause

#include <libgen.h>  // basename
#include <stdio.h>   // stderr, fprintf

#include <chrono>   // logcam: the deferred input's wait
#include <cstdlib>  // logcam: getenv, atof, exit
#include <memory>  // std::unique_ptr
#include <string>  // std::string
#include <thread>   // logcam: sleep_for

#include "Vtop.h"
#include "verilated.h"
#include "verilated_vpi.h"

#ifndef VM_TRACE_FST
// emulate new verilator behavior for legacy versions
#define VM_TRACE_FST 0
#endif

#if VM_TRACE
#if VM_TRACE_FST
#include <verilated_fst_c.h>
using verilated_trace_t = VerilatedFstC;
#elif VM_TRACE_SAIF
#include <verilated_saif_c.h>
using verilated_trace_t = VerilatedSaifC;
#else
// VM_TRACE_VCD
#include <verilated_vcd_c.h>
using verilated_trace_t = VerilatedVcdC;
#endif
static verilated_trace_t *tfp;
#endif

#ifdef LOGCAM_SHELL
// logcam: the shell's per-beat I/O (DPI imports of logcam.sim.rtl.shell). The input file is mapped, not
// copied (Python has just written it: its pages are in the page cache); every output file is created at the
// size of the beats it should receive, mapped, written word by word and cut to the words it got when the shell
// calls logcam_close — no buffer, no copy, no write call. (Fresh memory is what costs most on a VM whose
// every new page faults on the host: this touches each input and output byte once.)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "Vtop__Dpi.h"

namespace {
const uint32_t *logcam_in_words = nullptr;
size_t logcam_in_count = 0;  // words
int logcam_in_per_beat = 1;
struct LogcamOut {
    std::string path;
    int fd;
    uint32_t *words;
    size_t cap, n;  // words mapped, words written
};
std::vector<LogcamOut> logcam_outs;

// (re)size an output file to `cap` words and map it; false (and a message) if that fails
bool logcam_map(LogcamOut &o, size_t cap) {
    if (o.words) munmap(o.words, o.cap * 4);
    o.words = nullptr;
    o.cap = 0;
    if (ftruncate(o.fd, static_cast<off_t>(cap * 4)) != 0) {
        std::fprintf(stderr, "logcam shell: cannot size %s\n", o.path.c_str());
        return false;
    }
    void *p = mmap(nullptr, cap * 4, PROT_READ | PROT_WRITE, MAP_SHARED, o.fd, 0);
    if (p == MAP_FAILED) {
        std::fprintf(stderr, "logcam shell: cannot map %s\n", o.path.c_str());
        return false;
    }
    o.words = static_cast<uint32_t *>(p);
    o.cap = cap;
    return true;
}
}  // namespace

int logcam_load(const char *path, int words) {
    logcam_in_per_beat = words > 0 ? words : 1;
    int fd = open(path, O_RDONLY);
    // LOGCAM_IN_WAIT_S (logcam.sim.rtl.shell's deferred input): the simulator starts while Python still packs
    // the input; it waits for the file, which appears whole (written beside, then renamed), or for PATH.abort
    const char *wait = std::getenv("LOGCAM_IN_WAIT_S");
    if (fd < 0 && wait) {
        const double limit = std::atof(wait);
        const std::string abort_path = std::string(path) + ".abort";
        const auto t0 = std::chrono::steady_clock::now();
        while ((fd = open(path, O_RDONLY)) < 0) {
            if (access(abort_path.c_str(), F_OK) == 0) {
                std::fprintf(stderr, "logcam shell: the input %s was not produced\n", path);
                std::exit(3);
            }
            if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > limit) {
                std::fprintf(stderr, "logcam shell: waited %g s for the input %s\n", limit, path);
                std::exit(3);
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    }
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        std::fprintf(stderr, "logcam shell: cannot read %s\n", path);
        if (fd >= 0) close(fd);
        return 0;
    }
    const size_t bytes = static_cast<size_t>(st.st_size);
    if (bytes >= 4) {
        void *p = mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (p == MAP_FAILED) {
            std::fprintf(stderr, "logcam shell: cannot map %s\n", path);
        } else {
            logcam_in_words = static_cast<const uint32_t *>(p);
            logcam_in_count = bytes / 4;
        }
    }
    close(fd);  // the mapping stays until the process ends
    return static_cast<int>(logcam_in_count / static_cast<size_t>(logcam_in_per_beat));
}

int logcam_in(int beat, int w) {
    const size_t i = static_cast<size_t>(beat) * logcam_in_per_beat + static_cast<size_t>(w);
    return i < logcam_in_count ? static_cast<int>(logcam_in_words[i]) : 0;
}

int logcam_open(const char *path, int words) {
    LogcamOut o{path, open(path, O_RDWR | O_CREAT | O_TRUNC, 0644), nullptr, 0, 0};
    if (o.fd < 0) std::fprintf(stderr, "logcam shell: cannot write %s\n", path);
    else logcam_map(o, static_cast<size_t>(words > 0 ? words : 0) + 1024);
    logcam_outs.push_back(o);
    return static_cast<int>(logcam_outs.size() - 1);
}

void logcam_word(int id, int w) {
    LogcamOut &o = logcam_outs[static_cast<size_t>(id)];
    // more words than announced (a design with extra beats): double the file, keep every word
    if (o.n == o.cap && (o.fd < 0 || !logcam_map(o, 2 * o.n + 1024))) return;
    o.words[o.n++] = static_cast<uint32_t>(w);
}

void logcam_close() {
    for (auto &o : logcam_outs) {
        if (o.fd < 0) continue;
        if (o.words) munmap(o.words, o.cap * 4);
        if (ftruncate(o.fd, static_cast<off_t>(o.n * 4)) != 0)
            std::fprintf(stderr, "logcam shell: cannot write %s\n", o.path.c_str());
        close(o.fd);
    }
    logcam_outs.clear();
}
#endif

static vluint64_t main_time = 0;  // Current simulation time
#if VM_COVERAGE
static bool coverage_per_instance = false;
#endif

double sc_time_stamp() {  // Called by $time in Verilog
    return main_time;     // converts to double, to match
                          // what SystemC does
}

extern "C" {
void vlog_startup_routines_bootstrap(void);
}

static inline bool settle_value_callbacks() {
    bool cbs_called, again;

    // Call Value Change callbacks
    // These can modify signal values so we loop
    // until there are no more changes
    cbs_called = again = VerilatedVpi::callValueCbs();
    while (again) {
        again = VerilatedVpi::callValueCbs();
    }

    return cbs_called;
}

void wrap_up() {
    VerilatedVpi::callCbs(cbEndOfSimulation);

#if VM_TRACE
    if (tfp) {
        // We don't delete the trace object to avoid deadlock in verilator sims.
        tfp->close();
    }
#endif

    // VM_COVERAGE is a define which is set if Verilator is
    // instructed to collect coverage (when compiling the simulation)
#if VM_COVERAGE
    if (coverage_per_instance) {
        Verilated::threadContextp()->coveragep()->forcePerInstance(true);
    }
    VerilatedCov::write();  // Uses +verilator+coverage+file+<filename>,
                            // defaults to coverage.dat
#endif
}

int main(int argc, char **argv) {
#if VM_TRACE_FST
    const char *traceFile = "dump.fst";
#elif VM_TRACE_SAIF
    const char *traceFile = "dump.saif";
#else
    const char *traceFile = "dump.vcd";
#endif
    bool traceOn = false;
    bool traceFlush = false;
    bool coveragePerInstance = false;

    for (int i = 1; i < argc; i++) {
        std::string arg = std::string(argv[i]);
        if (arg == "--coverage-per-instance") {
#if VM_COVERAGE
            coveragePerInstance = true;
#else
            fprintf(stderr,
                    "Error: --coverage-per-instance requires the design to be "
                    "built with coverage support\n");
            return -1;
#endif
        } else if (arg == "--trace") {
#if VM_TRACE
            traceOn = true;
#else
            fprintf(stderr,
                    "Error: --trace requires the design to be built with trace "
                    "support\n");
            return -1;
#endif
        } else if (arg == "--trace-flush") {
            traceFlush = true;
        } else if (arg == "--trace-file") {
            if (++i < argc) {
                traceFile = argv[i];
            } else {
                fprintf(stderr, "Error: --trace-file requires a parameter\n");
                return -1;
            }
        } else if (arg == "--help") {
            fprintf(
                stderr,
                "usage: %s [--coverage-per-instance] [--trace] [--trace-flush] "
                "[--trace-file TRACEFILE]\n"
                "\n"
                "cocotb + Verilator sim\n"
                "\n"
                "options:\n"
                "  --coverage-per-instance  Force per-instance coverage "
                "(requires coverage build)\n"
                "  --trace                  Enable tracing (VCD, SAIF or FST)\n"
                "  --trace-flush            Flush trace at each time step "
                "(slow)\n"
                "  --trace-file             Specify the trace file name (%s by "
                "default)\n",
                basename(argv[0]), traceFile);
            return 0;
        }
    }

    Verilated::commandArgs(argc, argv);
#if VM_COVERAGE
    coverage_per_instance = coveragePerInstance;
#endif
#ifdef VERILATOR_SIM_DEBUG
    Verilated::debug(99);
#endif
    std::unique_ptr<Vtop> top(new Vtop(""));
    Verilated::fatalOnVpiError(false);  // otherwise it will fail on systemtf

#ifdef VERILATOR_SIM_DEBUG
    Verilated::internalsDump();
#endif

#if VM_TRACE
    Verilated::traceEverOn(true);
    if (traceOn) {
        tfp = new verilated_trace_t;
        top->trace(tfp, 99);
        tfp->open(traceFile);
    }
#endif

    vlog_startup_routines_bootstrap();
    Verilated::addExitCb([](void *) { wrap_up(); }, nullptr);
    VerilatedVpi::callCbs(cbStartOfSimulation);
    settle_value_callbacks();

    while (!Verilated::gotFinish()) {
        do {
            // We must evaluate whole design until we process all 'events' for
            // this time step
            do {
                top->eval_step();
                VerilatedVpi::clearEvalNeeded();
                VerilatedVpi::doInertialPuts();
                settle_value_callbacks();
            } while (VerilatedVpi::evalNeeded());

            // Run ReadWrite callback as we are done processing this eval step
            VerilatedVpi::callCbs(cbReadWriteSynch);
            VerilatedVpi::doInertialPuts();
            settle_value_callbacks();
        } while (VerilatedVpi::evalNeeded());

        top->eval_end_step();

        // Call ReadOnly callbacks
        VerilatedVpi::callCbs(cbReadOnlySynch);

#if VM_TRACE
        if (tfp) {
            tfp->dump(main_time);
            if (traceFlush) {
                tfp->flush();
            }
        }
#endif
#ifdef LOGCAM_SHELL
        // logcam: the memory-fed shell's clock loop (half period LOGCAM_HALF_PERIOD time units)
        if (top->mem_mode && !top->done) {
            while (!top->done && !Verilated::gotFinish()) {
                for (int level = 0; level < 2; ++level) {
                    main_time += LOGCAM_HALF_PERIOD;
                    top->clk = level;
                    top->eval();
#if VM_TRACE
                    if (tfp) tfp->dump(main_time);
#endif
                }
            }
            settle_value_callbacks();
        }
#endif
        // cocotb controls the clock inputs using cbAfterDelay so
        // skip ahead to the next registered callback
        const vluint64_t NO_TOP_EVENTS_PENDING = static_cast<vluint64_t>(~0ULL);
        vluint64_t next_time_cocotb = VerilatedVpi::cbNextDeadline();
        vluint64_t next_time_timing =
            top->eventsPending() ? top->nextTimeSlot() : NO_TOP_EVENTS_PENDING;
        vluint64_t next_time = std::min(next_time_cocotb, next_time_timing);

        // If there are no more cbAfterDelay callbacks,
        // the next deadline is max value, so end the simulation now
        if (next_time == NO_TOP_EVENTS_PENDING) {
            break;
        } else {
            main_time = next_time;
        }

        // Call registered NextSimTime
        // It should be called in simulation cycle before everything else
        // but not on first cycle
        VerilatedVpi::callCbs(cbNextSimTime);
        settle_value_callbacks();

        // Call registered timed callbacks (e.g. clock timer)
        // These are called at the beginning of the time step
        // before the iterative regions (IEEE 1800-2012 4.4.1)
        VerilatedVpi::callTimedCbs();
        settle_value_callbacks();
    }

    top->final();

    wrap_up();

#if VM_TRACE
    if (tfp) {
        delete tfp;
        tfp = nullptr;
    }
#endif

    // Fail the sim if any assertion/error fired during the run.
    if (Verilated::threadContextp()->errorCount() > 0) {
        return 1;
    }

    return 0;
}
