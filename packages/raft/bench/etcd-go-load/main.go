// etcd-go-load: the client-overhead control of the raft benchmark. It drives
// one etcd endpoint with etcd's own Go client (clientv3, one gRPC connection
// shared by every worker, as etcd's `benchmark put --conns=1`) in the same
// closed loop as the Node load generator: `clients` workers, each one put at
// a time, keys key-<worker>-<seq % keys-per-client>, values of value-bytes
// bytes, for duration-ms. It prints one JSON line:
// {"opsPerSecond":…,"p50Ms":…,"p99Ms":…,"operations":…,"errors":…}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
)

type result struct {
	OpsPerSecond float64 `json:"opsPerSecond"`
	P50Ms        float64 `json:"p50Ms"`
	P99Ms        float64 `json:"p99Ms"`
	Operations   int     `json:"operations"`
	Errors       int     `json:"errors"`
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	if rank < 0 {
		rank = 0
	}
	if rank >= len(sorted) {
		rank = len(sorted) - 1
	}
	return sorted[rank]
}

func main() {
	endpoint := flag.String("endpoint", "", "the one etcd client URL to drive")
	clients := flag.Int("clients", 1, "concurrent workers, each one request at a time")
	durationMs := flag.Int("duration-ms", 3000, "how long to run")
	valueBytes := flag.Int("value-bytes", 256, "bytes per value")
	keysPerClient := flag.Int("keys-per-client", 100, "distinct keys per worker")
	flag.Parse()
	if *endpoint == "" || *clients < 1 || *durationMs < 1 || *valueBytes < 1 || *keysPerClient < 1 {
		fmt.Fprintln(os.Stderr, "usage: etcd-go-load --endpoint URL [--clients N] [--duration-ms D] [--value-bytes B] [--keys-per-client K]")
		os.Exit(2)
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{*endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
	defer client.Close()
	// The dial does not block; a status call proves the endpoint answers.
	check, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err = client.Status(check, *endpoint)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "status:", err)
		os.Exit(1)
	}

	var mu sync.Mutex
	latencies := make([]float64, 0, 1<<16)
	errors := 0
	started := time.Now()
	end := started.Add(time.Duration(*durationMs) * time.Millisecond)
	var wg sync.WaitGroup
	for w := 0; w < *clients; w++ {
		wg.Add(1)
		go func(worker int) {
			defer wg.Done()
			local := make([]float64, 0, 1024)
			failed := 0
			for seq := 0; time.Now().Before(end); seq++ {
				prefix := fmt.Sprintf("%d:", seq)
				value := prefix + strings.Repeat("x", *valueBytes-len(prefix))
				key := fmt.Sprintf("key-%d-%d", worker, seq%*keysPerClient)
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := client.Put(ctx, key, value)
				cancel()
				if err != nil {
					failed++
					continue
				}
				local = append(local, float64(time.Since(t0).Nanoseconds())/1e6)
			}
			mu.Lock()
			latencies = append(latencies, local...)
			errors += failed
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(started).Seconds()
	sort.Float64s(latencies)
	out, _ := json.Marshal(result{
		OpsPerSecond: float64(len(latencies)) / elapsed,
		P50Ms:        percentile(latencies, 50),
		P99Ms:        percentile(latencies, 99),
		Operations:   len(latencies),
		Errors:       errors,
	})
	fmt.Println(string(out))
}
