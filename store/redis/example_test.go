package redis_test

import (
	"context"
	"fmt"
	"log"

	a1redis "github.com/a1-go/a1/store/redis"
)

// A cluster is a URL with cluster=true and seed nodes; a Sentinel setup
// names the master (the hosts are then sentinels).
func Example() {
	s, err := a1redis.Open("redis://10.0.0.1:6379?cluster=true&addr=10.0.0.2:6379&addr=10.0.0.3:6379", a1redis.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	d, err := s.AllowRate(context.Background(), "ip:203.0.113.7", 500, 500)
	if err == nil && !d.Allowed {
		log.Printf("429, retry after %v", d.RetryAfter)
	}
}

// The least-privilege ACL rule for a gateway whose keys start with
// "a1prod" (A1 deployments sharing one Redis use distinct prefixes).
func ExampleACLRule() {
	fmt.Println("ACL SETUSER a1-gateway on >PASSWORD " + a1redis.ACLRule("a1prod"))
	// Output: ACL SETUSER a1-gateway on >PASSWORD resetkeys ~a1prod:* resetchannels -@all +hello +ping +evalsha +eval +time +exists +get +set +hset +hexists +hlen +zadd +zscore +zcount +zremrangebyrank +zremrangebyscore +pttl +pexpireat +hmget +hdel +hgetall +zrange +sadd +srandmember +srem +info +cluster|slots
}
