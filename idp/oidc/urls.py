from django.urls import path

from idp.oidc import views

app_name = "oidc"
urlpatterns = [
    path(".well-known/openid-configuration", views.discovery, name="discovery"),
    path("oauth/authorize/", views.AuthorizationView.as_view(), name="authorize"),
    path("oauth/token/", views.TokenView.as_view(), name="token"),
    path("oauth/userinfo/", views.UserInfoView.as_view(), name="userinfo"),
    path("oauth/revoke/", views.RevokeTokenView.as_view(), name="revoke"),
    path("oauth/introspect/", views.IntrospectTokenView.as_view(), name="introspect"),
    path("oauth/logout/", views.LogoutView.as_view(), name="logout"),
]
