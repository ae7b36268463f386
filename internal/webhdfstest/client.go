package webhdfstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client is a WebHDFS client: Base is the WebHDFS URL up to and including
// /webhdfs/v1 (through a gateway: https://gw/gateway/t/webhdfs/v1).
type Client struct {
	Base       string
	HTTP       *http.Client
	User, Pass string // Basic credentials, when set
	UserName   string // user.name parameter, when set
}

// RemoteError is a WebHDFS error answer.
type RemoteError struct {
	Status                            int
	Exception, JavaClassName, Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("webhdfs: %d %s: %s", e.Status, e.Exception, e.Message)
}

// FileStatus is a WebHDFS FileStatus.
type FileStatus struct {
	PathSuffix string `json:"pathSuffix"`
	Type       string `json:"type"`
	Length     int64  `json:"length"`
	Owner      string `json:"owner"`
}

func (c *Client) url(p, op string, params ...string) string {
	q := url.Values{"op": {op}}
	if c.UserName != "" {
		q.Set("user.name", c.UserName)
	}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	return c.Base + (&url.URL{Path: p}).EscapedPath() + "?" + q.Encode()
}

func (c *Client) do(method, u string, body io.Reader, size int64) (*http.Response, error) {
	return c.doWith(c.HTTP, method, u, body, size)
}

func (c *Client) doWith(hc *http.Client, method, u string, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	if c.User != "" {
		req.SetBasicAuth(c.User, c.Pass)
	}
	return hc.Do(req)
}

// check turns a non-2xx answer into a *RemoteError.
func check(resp *http.Response, want int) error {
	if resp.StatusCode == want {
		return nil
	}
	defer resp.Body.Close()
	var e struct {
		RemoteException struct{ Exception, JavaClassName, Message string }
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &e) != nil || e.RemoteException.Exception == "" {
		return &RemoteError{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
	}
	re := e.RemoteException
	return &RemoteError{Status: resp.StatusCode, Exception: re.Exception, JavaClassName: re.JavaClassName, Message: re.Message}
}

func (c *Client) jsonCall(method, p, op string, out any, params ...string) error {
	resp, err := c.do(method, c.url(p, op, params...), nil, 0)
	if err != nil {
		return err
	}
	if err := check(resp, http.StatusOK); err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *Client) boolCall(method, p, op string, params ...string) (bool, error) {
	var b struct{ Boolean bool }
	err := c.jsonCall(method, p, op, &b, params...)
	return b.Boolean, err
}

// Mkdirs creates p and its parents.
func (c *Client) Mkdirs(p string) (bool, error) { return c.boolCall(http.MethodPut, p, "MKDIRS") }

// Rename moves p to dst.
func (c *Client) Rename(p, dst string) (bool, error) {
	return c.boolCall(http.MethodPut, p, "RENAME", "destination", dst)
}

// Delete removes p.
func (c *Client) Delete(p string, recursive bool) (bool, error) {
	return c.boolCall(http.MethodDelete, p, "DELETE", "recursive", fmt.Sprint(recursive))
}

// GetFileStatus returns p's status.
func (c *Client) GetFileStatus(p string) (FileStatus, error) {
	var s struct{ FileStatus FileStatus }
	err := c.jsonCall(http.MethodGet, p, "GETFILESTATUS", &s)
	return s.FileStatus, err
}

// ListStatus lists a directory.
func (c *Client) ListStatus(p string) ([]FileStatus, error) {
	var s struct {
		FileStatuses struct{ FileStatus []FileStatus }
	}
	err := c.jsonCall(http.MethodGet, p, "LISTSTATUS", &s)
	return s.FileStatuses.FileStatus, err
}

// twoStep runs CREATE or APPEND: the first request carries no data and
// must be redirected; the data goes to the Location.
func (c *Client) twoStep(method, p, op string, body io.Reader, size int64, want int, params ...string) (*http.Response, error) {
	hc := *c.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.doWith(&hc, method, c.url(p, op, params...), nil, 0)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusTemporaryRedirect {
		return nil, check(resp, http.StatusTemporaryRedirect)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, errors.New("webhdfs: redirect without Location")
	}
	resp, err = c.do(method, loc, body, size)
	if err != nil {
		return nil, err
	}
	if err := check(resp, want); err != nil {
		return nil, err
	}
	return resp, nil
}

// Create writes a file of size bytes from body (the two-step CREATE) and
// returns the Location of the new file.
func (c *Client) Create(p string, body io.Reader, size int64, overwrite bool) (string, error) {
	resp, err := c.twoStep(http.MethodPut, p, "CREATE", body, size, http.StatusCreated, "overwrite", fmt.Sprint(overwrite))
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return resp.Header.Get("Location"), nil
}

// Append adds size bytes from body to p.
func (c *Client) Append(p string, body io.Reader, size int64) error {
	resp, err := c.twoStep(http.MethodPost, p, "APPEND", body, size, http.StatusOK)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Open reads p, following the redirect to the datanode.
func (c *Client) Open(p string) (io.ReadCloser, error) {
	resp, err := c.do(http.MethodGet, c.url(p, "OPEN"), nil, 0)
	if err != nil {
		return nil, err
	}
	if err := check(resp, http.StatusOK); err != nil {
		return nil, err
	}
	return resp.Body, nil
}
