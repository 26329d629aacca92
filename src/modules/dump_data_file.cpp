// SPDX-License-Identifier: GPL-2.0-or-later
// DumpDataFile: append every request it sees (with the results saved by the
// modules that ran before it) to a file: "date=SECONDS.MICROSECONDS", then key=value
// lines, then an empty line. Every record is one write(2) to a file opened
// with O_APPEND, so records of concurrent workers never interleave. The
// file is reopened when it was rotated (renamed or removed) by logrotate.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "modules/module.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

struct DumpDataFileParams {
  std::string file_name;
};

const Option k_params[] = {
    bound_row<&DumpDataFileParams::file_name>({"fileName", OptType::string, nullptr,
                                               "file where to dump data from requests", nullptr,
                                               LLONG_MIN, LLONG_MAX, true}),
};

class DumpDataFile final : public Module {
 public:
  explicit DumpDataFile(std::string path) : d_path(std::move(path)) {}
  ~DumpDataFile() override { stop(); }

  void stop() noexcept override {
    if (d_fd >= 0) close(d_fd);
    d_fd = -1;
  }

  Result check(Request& request, const CallArgs&, CheckContext&) override {
    std::string why;
    if (!ensure_open(&why)) return Result(0, "dump failed: " + why);
    timeval tv{};
    gettimeofday(&tv, nullptr);
    std::string rec =
        format("date=%ld.%06ld\n", static_cast<long>(tv.tv_sec), static_cast<long>(tv.tv_usec));
    for (const auto& [k, v] : request.attributes()) {
      rec += k;
      rec += '=';
      for (char c : v)
        rec += (c == '\n' || c == '\r') ? ' ' : c;
      rec += '\n';
    }
    rec += '\n';
    ssize_t w = write(d_fd, rec.data(), rec.size());
    if (w != static_cast<ssize_t>(rec.size())) {
      std::string e = w < 0 ? std::strerror(errno) : "short write";
      log_warn("DumpDataFile %s: %s", d_path.c_str(), e.c_str());
      stop();  // reopen next time
      return Result(0, "dump failed: " + e);
    }
    return Result(0, "dump ok");
  }

 private:
  bool ensure_open(std::string* why) {
    time_t now = time(nullptr);
    if (d_fd >= 0 && now != d_checked) {
      // Rotated away? Compare the open file with what the path names now.
      d_checked = now;
      struct stat a {
      }, b{};
      if (fstat(d_fd, &a) != 0 || stat(d_path.c_str(), &b) != 0 || a.st_ino != b.st_ino ||
          a.st_dev != b.st_dev)
        stop();
    }
    if (d_fd >= 0) return true;
    d_fd = open(d_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (d_fd < 0) {
      *why = format("%s: %s", d_path.c_str(), std::strerror(errno));
      log_warn("DumpDataFile: cannot open %s", why->c_str());
      return false;
    }
    d_checked = now;
    return true;
  }

  std::string d_path;
  int d_fd = -1;
  time_t d_checked = 0;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  const std::string path = s.bound<DumpDataFileParams>().file_name;
  if (path.empty() || path[0] != '/') throw KeyError("fileName", "must be an absolute path");
  auto slash = path.rfind('/');
  std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw KeyError("fileName", format("directory %s does not exist", dir.c_str()));
  return std::make_unique<DumpDataFile>(path);
}

}  // namespace

extern const ModuleType k_dump_data_file_type = {
    "DumpDataFile",
    "Dump data from incoming requests into a file (with the results of the modules that ran\n"
    "before it). This information can be used for debugging other modules or to gather\n"
    "statistical data. Each record is a line \"date=SECONDS.MICROSECONDS\", then one NAME=VALUE\n"
    "line per attribute, then an empty line; records of concurrent workers never interleave.\n"
    "The file must be writable by the daemon's user; it is reopened after log rotation.",
    k_params,
    {0, 0, 0},
    {},
    {},
    "    this module always returns 0 (undefined result); the info says \"dump ok\" or why\n"
    "    the record could not be written\n",
    "[module dumpfile1]\ntype = DumpDataFile\nfileName = /var/spool/ppolicy/dump.dat\n",
    create,
};

}  // namespace ppolicy
