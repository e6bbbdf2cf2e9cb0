package services

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// checkGiven makes sure the services named by the environment answer, so a
// wrong URL fails here with its name rather than later in a test.
func (s *Stack) checkGiven(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if s.opts.Getenv("DATABASE_URL") != "" {
		c, err := pgx.Connect(ctx, s.ep.DatabaseURL)
		if err != nil {
			return fmt.Errorf("DATABASE_URL does not answer: %w", err)
		}
		c.Close(context.Background())
	}
	if s.opts.Getenv("REDIS_URL") != "" {
		opts, err := redis.ParseURL(s.ep.RedisURL)
		if err != nil {
			return fmt.Errorf("REDIS_URL: not a Redis URL")
		}
		c := redis.NewClient(opts)
		defer c.Close()
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("REDIS_URL does not answer: %w", err)
		}
	}
	return nil
}
