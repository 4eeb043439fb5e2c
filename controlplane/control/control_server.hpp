// control_server: the control API's Unix stream socket (docs/operations.md),
// served by the daemon's event loop on the main thread (never a worker).
// One JSON object per line each way; requests are handled one at a time
// in arrival order, from any number of clients.
//
// Who may connect: the socket is created 0600 owned by the daemon's user
// (root), or 0660 with `socket_group`; each client's credentials
// (SO_PEERCRED) are checked again on connect: root, the daemon's own user,
// or a member of the group.  No network listener exists.
//
// Hostile or broken clients cost bounded memory and no one else's time: a
// line longer than the limit is refused (RequestTooLarge) and the client
// closed; a client that sends nothing (or half a line) for the idle time
// is closed (RequestTimeout); past `max_clients` a new client is told
// Throttling and closed; one whose unread replies pile up is closed.
//
// Control thread only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "appliance/event_loop.hpp"
#include "control/control_api.hpp"

namespace sgfw::cp {

struct control_server_options {
  std::string path;                // the socket
  std::string group;               // "" = root only (0600)
  std::size_t max_clients = 64;    // connected at once
  std::size_t max_line = 1 << 20;  // bytes of one request
  std::chrono::milliseconds idle{30000};
};

class control_server {
 public:
  control_server(event_loop& loop, control_api& api, control_server_options options);
  ~control_server();  // closes every client and removes the socket
  control_server(const control_server&) = delete;
  control_server& operator=(const control_server&) = delete;

  // Creates the socket (its folder too) and starts serving; "" or why not.
  std::string start();
  std::size_t clients() const { return clients_.size(); }

 private:
  struct client {
    int fd = -1;
    std::string in;
    std::string out;
    std::size_t sent = 0;                               // of `out`
    bool closing = false;                               // close once `out` is sent
    bool shut = false;                                  // `out` sent and our side shut down
    bool eof = false;                                   // the client sent its last byte
    std::chrono::steady_clock::time_point last_active;  // connected, last request handled or reply byte taken
  };
  void accept_clients();
  void read_from(client& c);
  void serve(client& c);  // handles waiting requests, sends replies, decides whether to read
  bool flush(client& c);  // sends what it can; false when the client is gone
  void reply_and_close(client& c, const char* code, const std::string& message);
  void drop(int fd);
  void sweep_idle();
  bool allowed(int fd, std::string& who) const;
  client* find(int fd);

  event_loop& loop_;
  control_api& api_;
  control_server_options options_;
  int listen_fd_ = -1;
  gid_t group_ = 0;
  bool has_group_ = false;
  bool accept_paused_ = false;
  std::vector<std::unique_ptr<client>> clients_;
};

}  // namespace sgfw::cp
