package registry

import (
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1beta1 "k8s.io/apimachinery/pkg/apis/meta/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/runtime/serializer/versioning"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
)

// The scheme and codecs, as pkg/api/legacyscheme holds them upstream.

// Scheme knows the core/v1 and coordination.k8s.io/v1 types this server stores and the meta.k8s.io
// types it answers with (Table, PartialObjectMetadata).
var Scheme = newScheme()

// Codecs is the server's only answer format: JSON, as kube-apiserver's
// CodecFactory offers it (plain, pretty and strict variants, watch framing),
// without YAML, protobuf or CBOR. A client that accepts protobuf and JSON
// gets JSON; one that accepts only protobuf gets 406.
var Codecs = negotiatedCodecs{newJSONSerializerInfo(Scheme)}

// InputCodecs also read protobuf request bodies, which kubectl sends for
// its typed commands (kubectl create namespace, for one); any other body
// type gets 415.
var InputCodecs = negotiatedCodecs{newJSONSerializerInfo(Scheme), newProtobufSerializerInfo(Scheme)}

// ParameterCodec decodes the query options of the core/v1 subresources
// (PodExecOptions and friends) with the conversions in conversion.go.
var ParameterCodec = runtime.NewParameterCodec(Scheme)

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(corev1.AddToScheme(s))
	utilruntime.Must(authenticationv1.AddToScheme(s))
	utilruntime.Must(authorizationv1.AddToScheme(s))
	utilruntime.Must(coordinationv1.AddToScheme(s))
	utilruntime.Must(metav1.AddMetaToScheme(s))
	utilruntime.Must(metav1beta1.AddMetaToScheme(s))
	metav1.AddToGroupVersion(s, metav1.SchemeGroupVersion)
	utilruntime.Must(addQueryConversions(s))
	utilruntime.Must(addFieldLabelConversions(s))
	return s
}

func newJSONSerializerInfo(s *runtime.Scheme) runtime.SerializerInfo {
	plain := json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{})
	return runtime.SerializerInfo{
		MediaType:        runtime.ContentTypeJSON,
		MediaTypeType:    "application",
		MediaTypeSubType: "json",
		EncodesAsText:    true,
		Serializer:       plain,
		PrettySerializer: json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{Pretty: true}),
		StrictSerializer: json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{Strict: true}),
		StreamSerializer: &runtime.StreamSerializerInfo{
			EncodesAsText: true,
			Serializer:    plain,
			Framer:        json.Framer,
		},
	}
}

// newProtobufSerializerInfo decodes protobuf; it has no strict mode.
func newProtobufSerializerInfo(s *runtime.Scheme) runtime.SerializerInfo {
	pb := protobuf.NewSerializer(s, s)
	return runtime.SerializerInfo{
		MediaType:        runtime.ContentTypeProtobuf,
		MediaTypeType:    "application",
		MediaTypeSubType: "vnd.kubernetes.protobuf",
		Serializer:       pb,
		StrictSerializer: pb,
	}
}

// negotiatedCodecs is a runtime.NegotiatedSerializer over the given media
// types. Encoders stamp apiVersion and kind from the scheme, as the
// versioning codec of kube-apiserver does; nothing is ever converted since
// only v1 is served.
type negotiatedCodecs []runtime.SerializerInfo

func (c negotiatedCodecs) SupportedMediaTypes() []runtime.SerializerInfo { return c }

func (c negotiatedCodecs) EncoderForVersion(e runtime.Encoder, gv runtime.GroupVersioner) runtime.Encoder {
	return versioning.NewDefaultingCodecForScheme(Scheme, e, nil, gv, nil)
}

func (c negotiatedCodecs) DecoderToVersion(d runtime.Decoder, gv runtime.GroupVersioner) runtime.Decoder {
	return versioning.NewDefaultingCodecForScheme(Scheme, nil, d, nil, gv)
}

// jsonInfo is the JSON serializer set.
func (c negotiatedCodecs) jsonInfo() runtime.SerializerInfo { return c[0] }

// encoderFor returns an encoder that writes objects of gv.
func encoderFor(s runtime.Serializer, gv schema.GroupVersion) runtime.Encoder {
	return Codecs.EncoderForVersion(s, gv)
}
