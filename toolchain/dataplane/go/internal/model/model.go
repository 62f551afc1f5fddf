// Package model is the test model's gRPC API: one unary method, Predict, whose request and
// response are protobuf Structs (no generated code). The response names the version that answered.
package model

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
)

// Service is the gRPC service name.
const Service = "modelcanary.Model"

// PredictMethod is the full method name a client invokes.
const PredictMethod = "/" + Service + "/Predict"

// Predictor answers one prediction.
type Predictor interface {
	Predict(ctx context.Context, req *structpb.Struct) (*structpb.Struct, error)
}

// Register adds the service to a gRPC server.
func Register(s *grpc.Server, p Predictor) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: Service,
		HandlerType: (*Predictor)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Predict",
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				req := new(structpb.Struct)
				if err := dec(req); err != nil {
					return nil, err
				}
				if interceptor == nil {
					return srv.(Predictor).Predict(ctx, req)
				}
				info := &grpc.UnaryServerInfo{Server: srv, FullMethod: PredictMethod}
				return interceptor(ctx, req, info, func(ctx context.Context, r any) (any, error) {
					return srv.(Predictor).Predict(ctx, r.(*structpb.Struct))
				})
			},
		}},
		Streams:  []grpc.StreamDesc{},
		Metadata: "modelcanary/model.proto",
	}, p)
}
