package demo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

// trackingKey makes a client's evidence key: the private half as PEM (for
// clients.json) and the public half as the JWKS to register.
func trackingKey(client string) (string, []byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, fmt.Errorf("tracking key of %s: %w", client, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", nil, fmt.Errorf("tracking key of %s: %w", client, err)
	}
	priv := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: kid(client), Algorithm: string(jose.ES256), Use: "sig"}}}
	b, err := json.Marshal(set)
	if err != nil {
		return "", nil, fmt.Errorf("tracking JWKS of %s: %w", client, err)
	}
	return priv, b, nil
}

func kid(client string) string { return client + "-tracking" }

// Operator is who a demo evidence names.
type Operator struct {
	UserID, Location, LoA, Role string
	TTL                         time.Duration // 5 minutes when zero
}

// Evidence signs an AgID ModI AUDIT_REST_02 tracking evidence for c's
// operator op, meant for audience: what the partner platform's gateway
// would send as Agid-JWT-TrackingEvidence with each call.
func Evidence(c Client, audience string, op Operator) (string, error) {
	if c.TrackingKey == "" {
		return "", errors.New("client " + c.ClientID + " has no tracking key")
	}
	b, _ := pem.Decode([]byte(c.TrackingKey))
	if b == nil {
		return "", errors.New("client " + c.ClientID + ": tracking key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return "", fmt.Errorf("client %s: tracking key: %w", c.ClientID, err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kid(c.ClientID)))
	if err != nil {
		return "", err
	}
	if op.TTL == 0 {
		op.TTL = 5 * time.Minute
	}
	now := time.Now()
	claims := struct {
		jwt.Claims
		UserID       string `json:"userID"`
		UserLocation string `json:"userLocation"`
		LoA          string `json:"LoA"`
		UserRole     string `json:"userRole"`
	}{
		Claims: jwt.Claims{Issuer: c.ClientID, Audience: jwt.Audience{audience}, ID: uuid.NewString(),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(op.TTL))},
		UserID: op.UserID, UserLocation: op.Location, LoA: op.LoA, UserRole: op.Role,
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}
