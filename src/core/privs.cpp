// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/privs.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "base/strings.hpp"

namespace ppolicy {

gid_t resolve_group(const std::string& group) {
  if (group.empty()) return static_cast<gid_t>(-1);
  if (auto n = parse_int(group)) return static_cast<gid_t>(*n);
  struct group* g = getgrnam(group.c_str());
  if (!g) throw std::runtime_error(format("unknown group \"%s\"", group.c_str()));
  return g->gr_gid;
}

RunAs resolve_run_as(const std::string& user, const std::string& group) {
  RunAs r;
  r.drop = geteuid() == 0;
  if (!r.drop) {
    r.uid = geteuid();
    r.gid = getegid();
    return r;
  }
  struct passwd* pw = getpwnam(user.c_str());
  if (!pw) throw std::runtime_error(format("unknown user \"%s\" ([ppolicyd] user)", user.c_str()));
  if (pw->pw_uid == 0) throw std::runtime_error("refusing to run as root: set [ppolicyd] user");
  r.user = user;
  r.uid = pw->pw_uid;
  r.gid = group.empty() ? pw->pw_gid : resolve_group(group);
  return r;
}

void prepare_dir(const std::string& dir, const RunAs& who, mode_t mode) {
  if (dir.empty()) return;
  std::string path;
  for (const auto& part : split(dir, "/")) {
    path += "/" + part;
    if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
      throw std::runtime_error(format("mkdir %s: %s", path.c_str(), std::strerror(errno)));
  }
  if (!who.drop) return;
  // Root hands the directory over through a descriptor opened without
  // following a symlink: a link planted at `dir` (its parent may belong to
  // the run-time user) must never make root give away another directory.
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error(format("cannot open directory %s: %s (a symlink is refused)",
                                    dir.c_str(), std::strerror(errno)));
  bool ok = fchown(fd, who.uid, who.gid) == 0 && fchmod(fd, mode) == 0;
  int e = errno;
  close(fd);
  if (!ok)
    throw std::runtime_error(
        format("cannot give %s to %s: %s", dir.c_str(), who.user.c_str(), std::strerror(e)));
}

void drop_privileges(const RunAs& who) {
  if (!who.drop) return;
  if (setgroups(1, &who.gid) != 0 || setgid(who.gid) != 0 || setuid(who.uid) != 0)
    throw std::runtime_error(
        format("cannot drop privileges to %s: %s", who.user.c_str(), std::strerror(errno)));
  if (setuid(0) == 0 || geteuid() == 0)
    throw std::runtime_error("privileges could be regained after dropping them");
}

}  // namespace ppolicy
