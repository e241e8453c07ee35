#include "relay_checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace sluice::rabbitmq::detail {
namespace {

constexpr std::string_view kMagic = "sluice-relay-checkpoint v1\n";

std::uint64_t Fnv1a(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string Hex(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::string Body(GlobalPosition position) {
  return std::string(kMagic) + "position " + std::to_string(position) + "\n";
}

Status Errno(const std::string& what, const std::string& path) {
  return Status::IOError(what + " '" + path + "': " + std::strerror(errno));
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write the relay checkpoint", path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

Status SyncFolder(const std::filesystem::path& folder) {
  const std::string name = folder.empty() ? "." : folder.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open folder", name);
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return rc == 0 ? Status::Ok() : Errno("cannot sync folder", name);
}

}  // namespace

Result<GlobalPosition> LoadRelayCheckpoint(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec)
      return Status::IOError("cannot look at relay checkpoint '" + path + "': " + ec.message());
    return GlobalPosition{0};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read relay checkpoint '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read relay checkpoint '" + path + "'");
  const std::string text = buffer.str();
  const auto corrupt = [&path](const std::string& why) {
    return Status::Corruption("relay checkpoint '" + path + "' is damaged (" + why +
                              "); restore it or remove it to publish the whole log again");
  };
  if (text.size() > 256) return corrupt("too long");
  if (text.compare(0, kMagic.size(), kMagic) != 0) return corrupt("not a relay checkpoint");
  static constexpr std::string_view kPosition = "position ";
  std::size_t at = kMagic.size();
  if (text.compare(at, kPosition.size(), kPosition) != 0) return corrupt("no position line");
  at += kPosition.size();
  const std::size_t end = text.find('\n', at);
  if (end == std::string::npos) return corrupt("position line not ended");
  GlobalPosition position = 0;
  const auto [stop, error] = std::from_chars(text.data() + at, text.data() + end, position);
  if (error != std::errc() || stop != text.data() + end || end == at) {
    return corrupt("bad position");
  }
  const std::string expected = "checksum " + Hex(Fnv1a(Body(position))) + "\n";
  if (text.compare(end + 1, std::string::npos, expected) != 0) {
    return corrupt("checksum mismatch");
  }
  return position;
}

Status SaveRelayCheckpoint(const std::string& path, GlobalPosition position) {
  const std::filesystem::path target(path);
  const std::filesystem::path folder = target.parent_path();
  std::error_code ec;
  if (!folder.empty() && !std::filesystem::is_directory(folder, ec)) {
    std::filesystem::create_directories(folder, ec);
    if (ec) {
      return Status::IOError("cannot create folder '" + folder.string() + "': " + ec.message());
    }
    if (folder.has_parent_path()) SLUICE_RETURN_IF_ERROR(SyncFolder(folder.parent_path()));
  }
  const std::string body = Body(position);
  const std::string text = body + "checksum " + Hex(Fnv1a(body)) + "\n";
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", temp);
  Status status = WriteAll(fd, text, temp);
  if (status.ok() && ::fsync(fd) != 0) status = Errno("cannot sync", temp);
  if (::close(fd) != 0 && status.ok()) status = Errno("cannot close", temp);
  if (!status.ok()) return status;
  if (::rename(temp.c_str(), path.c_str()) != 0) return Errno("cannot rename onto", path);
  return SyncFolder(folder);
}

}  // namespace sluice::rabbitmq::detail
