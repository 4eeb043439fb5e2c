#include "appliance/ports.hpp"

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <array>
#include <cstring>
#include <vector>

#include "appliance/eal_options.hpp"
#include "worker/flow_owner.hpp"

namespace sgfw::cp {

namespace {

std::string device_name(const std::string& devargs) {
  const std::string full = with_pci_domain(devargs);
  return full.substr(0, full.find(','));
}

std::string say(int rc) { return std::string(rte_strerror(rc < 0 ? -rc : rc)); }

}  // namespace

bool open_port(const port_request& request, opened_port& out, std::string& error) {
  out.name = device_name(request.devargs);
  std::uint16_t id = 0;
  if (rte_eth_dev_get_port_by_name(out.name.c_str(), &id) != 0) {
    const int rc = rte_dev_probe(request.devargs.c_str());
    if (rc != 0 || rte_eth_dev_get_port_by_name(out.name.c_str(), &id) != 0) {
      error = "cannot open the " + request.role + " port '" + request.devargs +
              "': " + (rc != 0 ? say(rc) : "no Ethernet device of that name") +
              " (a PCI address bound to a DPDK driver, or a vdev such as net_tap0,iface=NAME; see "
              "docs/deployment.md)";
      return false;
    }
  }
  out.id = id;
  return true;
}

bool start_port(const port_request& request, opened_port& port, rte_mempool* pool, std::string& error) {
  const std::string what = "the " + request.role + " port '" + request.devargs + "'";
  rte_eth_dev_info info{};
  if (const int rc = rte_eth_dev_info_get(port.id, &info); rc != 0) {
    error = "cannot query " + what + ": " + say(rc);
    return false;
  }
  if (info.max_rx_queues < request.queues || info.max_tx_queues < request.queues) {
    error = what + " has " + std::to_string(info.max_rx_queues) + " RX and " + std::to_string(info.max_tx_queues) +
            " TX queues; " + std::to_string(request.queues) + " workers need one of each per worker" +
            " (use fewer workers, or a device with more queues, e.g. net_tap0,iface=NAME with several)";
    return false;
  }
  rte_eth_conf conf{};
  const std::uint64_t hash_fields = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;
  port.rss = request.queues > 1 && hash_fields != 0;
  if (port.rss) {
    // Addresses only, not ports: fragments (no ports) and the packets of a
    // flow hash alike, and the symmetric key sends both directions to
    // one queue.
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = const_cast<std::uint8_t*>(dp::k_symmetric_rss_key.data());
    conf.rx_adv_conf.rss_conf.rss_key_len =
        info.hash_key_size != 0 ? std::min<std::uint8_t>(info.hash_key_size, dp::k_rss_key_size) : 40;
    conf.rx_adv_conf.rss_conf.rss_hf = hash_fields;
  }
  if (const int rc = rte_eth_dev_configure(port.id, request.queues, request.queues, &conf); rc != 0) {
    error = "cannot configure " + what + " with " + std::to_string(request.queues) + " queues: " + say(rc);
    return false;
  }
  std::uint16_t rxd = request.rx_descriptors;
  std::uint16_t txd = request.tx_descriptors;
  if (const int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port.id, &rxd, &txd); rc != 0) {
    error = "cannot size the queues of " + what + ": " + say(rc);
    return false;
  }
  const int socket = rte_eth_dev_socket_id(port.id);
  for (std::uint16_t q = 0; q < request.queues; ++q) {
    if (const int rc = rte_eth_rx_queue_setup(port.id, q, rxd, static_cast<unsigned>(socket), nullptr, pool); rc != 0) {
      error = "cannot set up RX queue " + std::to_string(q) + " of " + what + ": " + say(rc);
      return false;
    }
    if (const int rc = rte_eth_tx_queue_setup(port.id, q, txd, static_cast<unsigned>(socket), nullptr); rc != 0) {
      error = "cannot set up TX queue " + std::to_string(q) + " of " + what + ": " + say(rc);
      return false;
    }
  }
  if (const int rc = rte_eth_dev_start(port.id); rc != 0) {
    error = "cannot start " + what + ": " + say(rc);
    return false;
  }
  // Entry j to queue j % queues: the placement flow_owner computes.  The
  // table's size is read again now that the queues are configured (some
  // drivers size it by them).  Where a device takes no table, reta_size
  // stays 0: the workers then assume one of 128 entries, most devices'
  // default, and packets that land elsewhere are handed to their owner.
  rte_eth_dev_info configured{};
  if (port.rss && rte_eth_dev_info_get(port.id, &configured) == 0 && configured.reta_size != 0) {
    constexpr unsigned k_group = RTE_ETH_RETA_GROUP_SIZE;
    std::vector<rte_eth_rss_reta_entry64> reta((configured.reta_size + k_group - 1) / k_group);
    for (unsigned j = 0; j < configured.reta_size; ++j) {
      reta[j / k_group].mask |= std::uint64_t{1} << (j % k_group);
      reta[j / k_group].reta[j % k_group] = static_cast<std::uint16_t>(j % request.queues);
    }
    if (rte_eth_dev_rss_reta_update(port.id, reta.data(), configured.reta_size) == 0) {
      port.reta_size = configured.reta_size;
    }
  }
  // A bump in the wire forwards frames for any address.
  const int rc = rte_eth_promiscuous_enable(port.id);
  if (rc != 0 && rc != -ENOTSUP) {
    error = "cannot make " + what + " promiscuous: " + say(rc);
    return false;
  }
  return true;
}

void stop_port(const opened_port& port) {
  rte_eth_dev_stop(port.id);
  rte_eth_dev_close(port.id);
}

}  // namespace sgfw::cp
