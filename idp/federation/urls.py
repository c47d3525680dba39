from django.urls import path

app_name = "federation"
urlpatterns: list = []
