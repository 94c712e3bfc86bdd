package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferric-project/ferric/node"
)

// NodeCounter counts nodes per provision state; *store.Store satisfies it.
type NodeCounter interface {
	CountNodesByProvisionState(ctx context.Context) (map[node.ProvisionState]int64, error)
}

// CollectNodes makes every scrape read the number of nodes in each provision
// state from src (one GROUP BY statement, bounded by timeout): the gauge is
// the database's truth at scrape time, the same from every process that
// exports it. Every state ferric knows is exported, 0 included.
func (m *Metrics) CollectNodes(src NodeCounter, timeout time.Duration) {
	m.reg.MustRegister(&nodeCollector{src: src, timeout: timeout, desc: prometheus.NewDesc("ferric_nodes",
		"Nodes in each provision state, read from the database at scrape time.", []string{"provision_state"}, nil)})
}

type nodeCollector struct {
	src     NodeCounter
	timeout time.Duration
	desc    *prometheus.Desc
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, err := c.src.CountNodesByProvisionState(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, s := range node.States() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[s]), string(s))
		delete(counts, s)
	}
	for s, n := range counts { // a state this build does not know
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(s))
	}
}
