// Package logs reads container log files in the CRI logging format, the way
// the kubelet answers `kubectl logs`: it tails, filters by time, limits bytes,
// adds timestamps and follows the file while the container runs. The
// kubelet's GetKubeletContainerLogs picks the file; this package reads it.
//
// It mirrors k8s.io/kubernetes pkg/kubelet/kuberuntime/logs/logs.go. The
// runtime writes one file line per chunk of output:
//
//	2016-10-06T00:17:09.669794202Z stdout P log content 1
//	2016-10-06T00:17:09.669794203Z stderr F log content 2
//
// A "P" (partial) chunk continues in the next line; ReadLogs writes the chunks
// back to back, so a long line comes out whole. The files:
//
//	logs.go  Options from PodLogOptions, ReadLogs (and follow), ParseCRILog
//	tail.go  FindTailLineStartIndex: where the last n lines begin
package logs
