// SPDX-License-Identifier: GPL-2.0-or-later
// ppolicyd - Postfix SMTP access policy server.
//
//   ppolicyd [-c FILE] [-f] [-o SECTION.KEY=VALUE]...   run the daemon
//   ppolicyd [-c FILE] -t                              check the configuration
//   ppolicyd [-c FILE] -e < requests                   evaluate requests, print traces
//   ppolicyd [-c FILE] -C [-j] COMMAND [ARG]...         live state of the running daemon
//   ppolicyd -M [TYPE]                                 module documentation
//   ppolicyd -d                                        every server key with its default
//   ppolicyd [-c FILE] -n                              the server keys that differ from it
//   ppolicyd -V                                        version
//
// main() only parses the command line, loads the configuration and hands
// over to the master (core/master.cpp) or a command-line mode (core/cli.cpp).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "conf/config.hpp"
#include "config.h"
#include "core/cli.hpp"
#include "core/control.hpp"
#include "core/master.hpp"
#include "core/privs.hpp"
#include "runtime/generation.hpp"
#include "runtime/policy_tests.hpp"
#include "shm/table.hpp"

#ifndef PPOLICY_CONFIG
#define PPOLICY_CONFIG "/etc/ppolicy/ppolicy.conf"
#endif

using namespace ppolicy;

namespace {

void usage(FILE* out) {
  std::fprintf(
      out,
      "usage: ppolicyd [-c FILE] [-f] [-o SECTION.KEY=VALUE]...\n"
      "       ppolicyd [-c FILE] [-o ...] -t      check the configuration and exit\n"
      "       ppolicyd [-c FILE] [-o ...] -e      evaluate requests from stdin, print traces\n"
      "       ppolicyd [-c FILE] [-o ...] -T TESTS  run a policy test file, print failures\n"
      "       ppolicyd [-c FILE] -C [-j] COMMAND [ARG]...  live state commands (status, show,\n"
      "                                           release, reset, flush, close; -j: JSON)\n"
      "       ppolicyd -M [TYPE]                  print module documentation\n"
      "       ppolicyd -d                         print the server keys with their defaults\n"
      "       ppolicyd [-c FILE] [-o ...] -n      print the server keys that differ from them\n"
      "       ppolicyd -V                         print the version\n"
      "default configuration: %s\n",
      PPOLICY_CONFIG);
}

// Daemon mode: the parent waits until the master says it started (or why it
// could not), so `ppolicyd` and init scripts get a truthful exit status.
int daemonize(MasterOptions& opts) {
  int p[2];
  if (pipe(p) != 0) {
    std::perror("ppolicyd: pipe");
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("ppolicyd: fork");
    return -1;
  }
  if (pid > 0) {
    close(p[1]);
    std::string msg;
    char buf[512];
    ssize_t r;
    while ((r = read(p[0], buf, sizeof buf)) > 0)
      msg.append(buf, static_cast<size_t>(r));
    if (msg == "ok") _exit(0);
    std::fprintf(stderr, "ppolicyd: %s\n",
                 msg.empty() ? "failed to start (see the mail log)" : msg.c_str());
    _exit(1);
  }
  close(p[0]);
  setsid();
  if (chdir("/") != 0) {
  }
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (null > 2) close(null);
  }
  opts.ready_fd = p[1];
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MasterOptions opts;
  opts.config_path = PPOLICY_CONFIG;
  bool test = false, eval = false, docs = false, non_defaults = false;
  std::string test_file;  // -T
  std::string doc_type;
  std::vector<std::string> control_args;  // -C: the rest of the command line
  bool control = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto need = [&](const char* what) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "ppolicyd: %s needs %s\n", a.c_str(), what);
        usage(stderr);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-c") {
      opts.config_path = need("a file name");
    } else if (a == "-f") {
      opts.foreground = true;
    } else if (a == "-t") {
      test = true;
    } else if (a == "-e") {
      eval = true;
    } else if (a == "-n") {
      non_defaults = true;
    } else if (a == "-T") {
      test_file = need("a policy test file");
    } else if (a == "-o") {
      std::string o = need("SECTION.KEY=VALUE");
      auto ov = parse_override(o);
      if (!ov) {
        std::fprintf(stderr,
                     "ppolicyd: -o %s: expected SECTION.KEY=VALUE (e.g. "
                     "ppolicyd.listen=inet:127.0.0.1:10031)\n",
                     o.c_str());
        return 2;
      }
      opts.overrides.push_back(*ov);
    } else if (a == "-C") {
      control = true;
      control_args.assign(argv + i + 1, argv + argc);
      if (control_args.empty() || (control_args.size() == 1 && control_args[0] == "-j")) {
        std::fprintf(stderr, "ppolicyd: -C needs a command (e.g. ppolicyd -C status)\n");
        return 2;
      }
      break;
    } else if (a == "-M") {
      docs = true;
      if (i + 1 < argc && argv[i + 1][0] != '-') doc_type = argv[++i];
    } else if (a == "-d") {
      print_defaults();
      return 0;
    } else if (a == "-V" || a == "--version") {
      std::printf("ppolicyd %s\n", PACKAGE_VERSION);
      return 0;
    } else if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "ppolicyd: unknown option %s\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }

  if (docs) {
    if (!print_module_docs(doc_type)) {
      std::fprintf(stderr, "ppolicyd: unknown module type \"%s\"\n", doc_type.c_str());
      return 1;
    }
    return 0;
  }

  if (control) {
    // Only the configuration's control_socket is needed: no modules are
    // created, no policy is compiled.
    try {
      ErrorList errors;
      auto config = Config::load(opts.config_path, opts.overrides, errors);
      if (!config) errors.raise_if_any();
      return control_client(config->server.control_socket, control_args);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\nppolicyd: configuration has errors\n", e.what());
      return 1;
    }
  }

  // Until the configuration says otherwise, messages go to stderr.
  LogTarget early;
  early.level = LogLevel::info;
  log_open(early);
  std::unique_ptr<Generation> gen;
  try {
    gen = Generation::load(opts.config_path, opts.overrides);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::fprintf(stderr, "ppolicyd: configuration has errors, %s\n",
                 test || non_defaults ? "see above" : "not starting");
    return 1;
  }
  if (non_defaults) {
    print_non_defaults(gen->config());
    return 0;
  }
  if (test) {
    try {
      if (geteuid() == 0) resolve_run_as(gen->server().user, gen->server().group);
      resolve_group(gen->server().unix_socket_group);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\nppolicyd: configuration has errors, see above\n",
                   opts.config_path.c_str(), e.what());
      return 1;
    }
    std::printf("ppolicyd: configuration %s OK (%zu modules, %zu policies, %zu policy tests)\n",
                opts.config_path.c_str(), gen->modules.size(), gen->policies.size(),
                gen->policy_tests_run);
    return 0;
  }
  if (!test_file.empty()) return run_policy_test_file(*gen, test_file, stdout);
  if (eval) {
    LogTarget t = gen->server().log;
    t.use_syslog = false;
    t.level = LogLevel::warning;
    log_open(t);
    return evaluate_stdin(*gen);
  }

  // Test hook (t/integration/shm_crash.py): pause inside every shared-memory
  // update so a test can kill a worker in the middle of one. Never set in
  // production; documented in ppolicyd(8) under ENVIRONMENT.
  if (const char* pause = std::getenv("PPOLICY_TEST_SHM_PAUSE_US"))
    ShmTable::set_test_pause(static_cast<unsigned>(std::strtoul(pause, nullptr, 10)));

  log_open(log_target_for(gen->server(), opts.foreground));
  if (!opts.foreground && daemonize(opts) != 0) return 1;
  return run_master(std::move(gen), opts);
}
