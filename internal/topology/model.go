package topology

import "time"

// Topology is the native model of a topology document. Its YAML and JSON
// forms use the tags below and are decoded strictly: unknown fields are errors.
type Topology struct {
	Name        string     `json:"name" yaml:"name"`
	Description string     `json:"description,omitempty" yaml:"description,omitempty"`
	Providers   []Provider `json:"providers,omitempty" yaml:"providers,omitempty"`
	Services    []Service  `json:"services" yaml:"services"`

	// conv is what the Knox converter found that the model does not carry:
	// items without an equivalent, which Validate reports as problems, and
	// settings it dropped, which Validate reports as warnings. Never encoded.
	conv conversion
}

// conversion notes of a converted document.
type conversion struct {
	problems []FieldError
	warnings []string
}

// Provider configures one handler of the topology's chain.
type Provider struct {
	// Role: authentication, federation, identity-assertion, authorization,
	// webappsec, ha, or a custom role.
	Role string `json:"role" yaml:"role"`
	Name string `json:"name" yaml:"name"`
	// Enabled defaults to true when absent.
	Enabled *bool             `json:"enabled,omitempty" yaml:"enabled,omitempty"`
	Params  map[string]string `json:"params,omitempty" yaml:"params,omitempty"`

	// Line is the line of the provider in its source document, 0 when unknown.
	Line int `json:"-" yaml:"-"`
}

// IsEnabled reports whether the provider is enabled (the default).
func (p Provider) IsEnabled() bool { return p.Enabled == nil || *p.Enabled }

// Service is one backend service published at /gateway/{topology}/{path}.
type Service struct {
	Role      string            `json:"role,omitempty" yaml:"role,omitempty"`
	Path      string            `json:"path" yaml:"path"`
	URLs      []string          `json:"urls" yaml:"urls"`
	Params    map[string]string `json:"params,omitempty" yaml:"params,omitempty"`
	Dispatch  *Dispatch         `json:"dispatch,omitempty" yaml:"dispatch,omitempty"`
	WebSocket bool              `json:"websocket,omitempty" yaml:"websocket,omitempty"`
	HA        *HA               `json:"ha,omitempty" yaml:"ha,omitempty"`

	// Line is the line of the service in its source document, 0 when unknown.
	Line int `json:"-" yaml:"-"`
}

// Dispatch holds per-service settings of the connection to the backend.
type Dispatch struct {
	UseTwoWayTLS          bool     `json:"use_two_way_tls,omitempty" yaml:"use_two_way_tls,omitempty"`
	ClientCertificate     string   `json:"client_certificate,omitempty" yaml:"client_certificate,omitempty"`
	Truststore            string   `json:"truststore,omitempty" yaml:"truststore,omitempty"`
	InsecureSkipVerify    bool     `json:"insecure_skip_verify,omitempty" yaml:"insecure_skip_verify,omitempty"`
	DialTimeout           Duration `json:"dial_timeout,omitempty" yaml:"dial_timeout,omitempty"`
	TLSHandshakeTimeout   Duration `json:"tls_handshake_timeout,omitempty" yaml:"tls_handshake_timeout,omitempty"`
	ResponseHeaderTimeout Duration `json:"response_header_timeout,omitempty" yaml:"response_header_timeout,omitempty"`
	IdleTimeout           Duration `json:"idle_timeout,omitempty" yaml:"idle_timeout,omitempty"`
	MaxBodyBytes          int64    `json:"max_body_bytes,omitempty" yaml:"max_body_bytes,omitempty"`
	Classname             string   `json:"classname,omitempty" yaml:"classname,omitempty"`
	// Federate re-dispatches to another gateway's topology (Knox's
	// HeaderPreAuthFederationDispatch): the principal goes in the
	// federation header, FederationHeader or else the gateway's
	// federation.header (SM_USER), signed when FederationSecret is set.
	// FederationHeader or FederationSecret alone also turn it on.
	Federate         bool   `json:"federate,omitempty" yaml:"federate,omitempty"`
	FederationHeader string `json:"federation_header,omitempty" yaml:"federation_header,omitempty"`
	// FederationSecret is the alias of the secret signing federated
	// requests (the receiving topology's header-preauth secret).
	FederationSecret string `json:"federation_secret,omitempty" yaml:"federation_secret,omitempty"`
	// ForwardCredentials sends the backend the credentials the gateway
	// authenticated the request with (Authorization header, SSO cookie,
	// token parameter), which are removed by default. Warned at deploy.
	ForwardCredentials bool `json:"forward_credentials,omitempty" yaml:"forward_credentials,omitempty"`
	// AllowTrace forwards TRACE and TRACK requests to the backend; without
	// it the gateway refuses them with 405 (cross-site tracing).
	AllowTrace bool `json:"allow_trace,omitempty" yaml:"allow_trace,omitempty"`
}

// HA configures failover between a service's URLs.
type HA struct {
	FailoverStatuses    []int    `json:"failover_statuses,omitempty" yaml:"failover_statuses,omitempty"`
	MaxFailures         int      `json:"max_failures,omitempty" yaml:"max_failures,omitempty"`
	Cooloff             Duration `json:"cooloff,omitempty" yaml:"cooloff,omitempty"`
	HealthCheckPath     string   `json:"health_check_path,omitempty" yaml:"health_check_path,omitempty"`
	HealthCheckInterval Duration `json:"health_check_interval,omitempty" yaml:"health_check_interval,omitempty"`
	// FailoverOnStandby fails over, for requests that can be replayed,
	// when the backend answers as a standby does. For the roles
	// ResourceManagerRole names (RESOURCEMANAGER, YARNUI, YARNUIV2,
	// YARN-SCHEDULER-UI), a standby YARN ResourceManager: 307 or 403 with a
	// body of at most 4 KiB holding "This is standby RM" (its redirect to
	// the active one), or a 307 holding "Can not find any active RM"; such
	// an answer never reaches the client (it names the RMs' addresses):
	// when it cannot fail over, the client gets 503. For any other role, a
	// standby Hadoop namenode (WebHDFS behind namenode HA): 403 with a
	// RemoteException whose exception is StandbyException, which reaches
	// the client when it cannot fail over. Other answers, such as
	// permission denied or an active RM's redirect, reach the client. A
	// Knox HaProvider enabling one of these roles sets it.
	FailoverOnStandby bool `json:"failover_on_standby,omitempty" yaml:"failover_on_standby,omitempty"`
	// SafeModeRetries retries a request that can be replayed on the same
	// URL, at most this many times (0-MaxSafeModeRetries; 0: never), when
	// the backend answers as a Hadoop namenode in safe mode does: 403 with
	// a RemoteException whose exception is SafeModeException or
	// RetriableException (what an HA namenode starting up answers). The
	// last answer reaches the client. A Knox HaProvider's maxRetryAttempts
	// for WEBHDFS sets it.
	SafeModeRetries int `json:"safe_mode_retries,omitempty" yaml:"safe_mode_retries,omitempty"`
	// SafeModeRetrySleep is the wait before each of those retries
	// (0: none; at most MaxSafeModeRetrySleep); the client going away
	// ends it. Knox's retrySleep.
	SafeModeRetrySleep Duration `json:"safe_mode_retry_sleep,omitempty" yaml:"safe_mode_retry_sleep,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("30s") in
// YAML and JSON.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
